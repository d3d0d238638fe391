"""The columns an import accepts, in English and Polish, and the form that checks one row.

A header is matched after folding case, accents, spaces and hyphens, so "Imię i nazwisko",
"imie_i_nazwisko" and "IMIĘ I NAZWISKO" are the same column. Values are checked by Django
form fields: a wrong date or an unknown status is a field error with its code, in the user's
language.
"""

import datetime
import unicodedata

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _

from attendance.models import AttendanceRecord, Consent
from clinics.models import Participant

PURPOSES_PL = {
    "participation": "udzial",
    "health_data": "dane_o_zdrowiu",
    "contact": "kontakt",
    "disclosure": "ujawnienie",
    "recording": "nagrywanie",
    "research": "badania",
}

PARTICIPANT_COLUMNS = {
    "id": ["identyfikator", "nr", "lp_id"],
    "code": ["kod"],
    "alias": ["pseudonim"],
    "legal_name": ["imie_i_nazwisko", "nazwisko"],
    "email": ["e_mail", "adres_e_mail"],
    "phone": ["telefon"],
    "reminder_channel": ["kanal_przypomnien", "przypomnienia"],
    "birth_year": ["rok_urodzenia"],
}
for _purpose, _pl in PURPOSES_PL.items():
    PARTICIPANT_COLUMNS[f"consent_{_purpose}_date"] = [f"zgoda_{_pl}_data"]
    PARTICIPANT_COLUMNS[f"consent_{_purpose}_version"] = [f"zgoda_{_pl}_wersja"]
PARTICIPANT_COLUMNS["consent_disclosure_recipient"] = ["zgoda_ujawnienie_odbiorca"]

ATTENDANCE_COLUMNS = {
    "code": ["kod"],
    "date": ["data"],
    "status": ["obecnosc"],
    "arrived_at": ["przyjscie", "godzina_przyjscia"],
    "left_at": ["wyjscie", "godzina_wyjscia"],
}

REQUIRED = {"participants": ("alias",), "attendance": ("code", "date", "status")}
IDENTITY_COLUMNS = ("legal_name", "email", "phone", "birth_year")

# Values as people write them in Polish sheets, beside the API's own.
STATUS_WORDS = {
    "obecny": "present",
    "obecna": "present",
    "spozniony": "late",
    "spozniona": "late",
    "spoznienie": "late",
    "wyszedl_wczesniej": "left_early",
    "wyszla_wczesniej": "left_early",
    "usprawiedliwiony": "excused",
    "usprawiedliwiona": "excused",
    "nieobecnosc_usprawiedliwiona": "excused",
    "nieusprawiedliwiony": "unexcused",
    "nieusprawiedliwiona": "unexcused",
    "nieobecnosc_nieusprawiedliwiona": "unexcused",
}
CHANNEL_WORDS = {"brak": "none", "e_mail": "email", "mail": "email", "": ""}

DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y"]
TIME_FORMATS = ["%H:%M", "%H:%M:%S", "%H.%M"]


def fold(text: str) -> str:
    """A header or a word without case, accents, spaces and hyphens ("Imię i nazwisko" →
    "imie_i_nazwisko")."""
    text = text.strip().casefold().replace("ł", "l")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    for separator in (" ", "-", "."):
        text = text.replace(separator, "_")
    while "__" in text:
        text = text.replace("__", "_")
    return text.strip("_")


def header_names(kind: str) -> dict[str, str]:
    """{folded header: column} for every name a column of `kind` is known by."""
    columns = PARTICIPANT_COLUMNS if kind == "participants" else ATTENDANCE_COLUMNS
    names = {}
    for column, polish in columns.items():
        names[fold(column)] = column
        for name in polish:
            names[fold(name)] = column
    return names


def purposes_in(columns) -> list[str]:
    return [p for p in Consent.Purpose.values if f"consent_{p}_date" in columns]


class _Words(forms.ChoiceField):
    """A choice written as the API's value or as one of its Polish words."""

    def __init__(self, *, words: dict, **kwargs):
        self.words = words
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        folded = fold(value)
        return self.words.get(folded, folded)


class ParticipantRow(forms.Form):
    id = forms.CharField(max_length=64, required=False)
    code = forms.CharField(max_length=16, required=False)
    alias = forms.CharField(max_length=100)
    legal_name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=32, required=False)
    reminder_channel = _Words(
        words=CHANNEL_WORDS, choices=[("", "")] + Participant.Channel.choices, required=False
    )
    birth_year = forms.IntegerField(min_value=1900, max_value=2100, required=False)

    def __init__(self, *args, purposes=(), today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.purposes = purposes
        self.today = today or timezone.localdate()
        for purpose in purposes:
            self.fields[f"consent_{purpose}_date"] = forms.DateField(
                input_formats=DATE_FORMATS, required=False
            )
            self.fields[f"consent_{purpose}_version"] = forms.CharField(
                max_length=32, required=False
            )
        if "disclosure" in purposes:
            self.fields["consent_disclosure_recipient"] = forms.CharField(
                max_length=200, required=False
            )

    def clean(self):
        data = super().clean()
        if not data.get("code") and not data.get("id") and "code" not in self.errors:
            self.add_error(
                "code",
                forms.ValidationError(
                    _("Give the participant's code, or the file's own id in the column “id”."),
                    code="required",
                ),
            )
        for purpose in self.purposes:
            date_field, version_field = f"consent_{purpose}_date", f"consent_{purpose}_version"
            day, version = data.get(date_field), data.get(version_field)
            if day and day > self.today:
                self.add_error(
                    date_field,
                    forms.ValidationError(
                        _("A consent cannot be granted in the future."), code="future"
                    ),
                )
            if day and not version and version_field not in self.errors:
                self.add_error(
                    version_field,
                    forms.ValidationError(
                        _("Give the version of the consent text that was agreed to."),
                        code="required",
                    ),
                )
            if version and not day and date_field not in self.errors:
                self.add_error(
                    date_field,
                    forms.ValidationError(_("Give the date of the consent."), code="required"),
                )
        if (
            "disclosure" in self.purposes
            and data.get("consent_disclosure_date")
            and not data.get("consent_disclosure_recipient")
        ):
            self.add_error(
                "consent_disclosure_recipient",
                forms.ValidationError(
                    _("Name the third party the attendance may be disclosed to."),
                    code="required",
                ),
            )
        return data


class AttendanceRow(forms.Form):
    code = forms.CharField(max_length=16)
    date = forms.DateField(input_formats=DATE_FORMATS)
    status = _Words(words=STATUS_WORDS, choices=AttendanceRecord.Status.choices)
    arrived_at = forms.TimeField(input_formats=TIME_FORMATS, required=False)
    left_at = forms.TimeField(input_formats=TIME_FORMATS, required=False)


def consent_start(day: datetime.date, tz) -> datetime.datetime:
    """A consent dated on paper: in force from the start of that day where the institution is."""
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=tz)
