"""Forms of the staff UI. They parse and label input; the services decide what is allowed."""

import datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from attendance.models import Consent, Enrollment
from clinics.models import Participant
from sessions.models import GroupFacilitator, Session, SupportGroup

from .widgets import SearchChoiceField, participant_label, user_label


class StaffForm(forms.Form):
    """Marks fields with errors for screen readers and ties each error to its field."""

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{self[name].auto_id}_error"

    def add_error(self, field, error):
        super().add_error(field, error)
        if field and field in self.fields:
            attrs = self.fields[field].widget.attrs
            attrs["aria-invalid"] = "true"
            attrs["aria-describedby"] = f"{self[field].auto_id}_error"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


# --- Session screen ----------------------------------------------------------------------------


class NoteForm(StaffForm):
    theme = forms.CharField(label=_("Theme"), max_length=200, required=False)
    text = forms.CharField(
        label=_("What the group worked on"), widget=forms.Textarea(attrs={"rows": 4})
    )


class ParticipantNoteForm(StaffForm):
    participant = forms.IntegerField(widget=forms.HiddenInput)
    text = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}))


class WalkInForm(StaffForm):
    alias = forms.CharField(
        label=_("Alias"),
        max_length=100,
        required=False,
        help_text=_("How the group knows them. A new participant code is given automatically."),
    )
    existing = forms.CharField(
        label=_("…or the code of someone already registered"),
        max_length=16,
        required=False,
        help_text=_("For example P-00042."),
    )
    method = forms.ChoiceField(
        label=_("Consent to take part and to the ground rules, given"),
        choices=Consent.Method.choices,
    )
    text_version = forms.CharField(label=_("Version of the consent text"), max_length=32)

    def clean(self):
        data = super().clean()
        if not (data.get("alias") or "").strip() and not (data.get("existing") or "").strip():
            self.add_error("alias", _("Give an alias, or the code of a registered participant."))
        return data


class CancelForm(StaffForm):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))
    cancelled_by = forms.ChoiceField(
        label=_("Cancelled by"), choices=Session.CancelledBy.choices, widget=forms.RadioSelect
    )
    confirm = forms.BooleanField(
        label=_("I understand that members with a contact consent will be told."),
        required=True,
    )


class RescheduleForm(StaffForm):
    date = forms.DateField(label=_("Date"), widget=DateInput())
    start_time = forms.TimeField(label=_("Starts at"), widget=TimeInput())
    end_time = forms.TimeField(label=_("Ends at"), widget=TimeInput())
    room = forms.ModelChoiceField(label=_("Room"), queryset=None, required=False)
    confirm = forms.BooleanField(
        label=_("I understand that members with a contact consent will be told."),
        required=True,
    )

    def __init__(self, *args, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = rooms

    def clean(self):
        data = super().clean()
        if (
            data.get("start_time")
            and data.get("end_time")
            and data["end_time"] <= data["start_time"]
        ):
            self.add_error("end_time", _("A session must end after it starts."))
        return data


# --- Groups ------------------------------------------------------------------------------------


WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


def _parse_numbers(text: str) -> list[int]:
    return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]


class GroupForm(StaffForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=SupportGroup.Category.choices)
    membership_mode = forms.ChoiceField(
        label=_("Membership"),
        choices=SupportGroup.MembershipMode.choices,
        help_text=_(
            "Closed: no newcomers after the start. Open: anyone, any time. "
            "Semi-open: newcomers at the entry points only."
        ),
    )
    entry_points = forms.CharField(
        label=_("Entry points (semi-open)"),
        required=False,
        help_text=_("Session numbers separated by commas, e.g. 1, 5, 9."),
    )
    capacity = forms.IntegerField(label=_("Capacity"), min_value=2, max_value=40, initial=12)
    min_size = forms.IntegerField(
        label=_("Minimum size (quorum)"), min_value=1, max_value=40, initial=3
    )
    default_room = forms.ModelChoiceField(label=_("Room"), queryset=None, required=False)
    online_link = forms.URLField(label=_("Online link"), required=False, assume_scheme="https")
    language = forms.ChoiceField(
        label=_("Language of the group"),
        choices=[("pl", _("Polish")), ("en", _("English")), ("ar", _("Arabic"))],
    )
    ground_rules = forms.CharField(
        label=_("Ground rules"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    starts_on = forms.DateField(label=_("Starts on"), widget=DateInput())
    ends_on = forms.DateField(label=_("Ends on"), widget=DateInput(), required=False)

    def __init__(self, *args, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_room"].queryset = rooms

    def clean_entry_points(self):
        try:
            return _parse_numbers(self.cleaned_data.get("entry_points") or "")
        except ValueError:
            raise forms.ValidationError(_("Give session numbers separated by commas.")) from None

    def clean(self):
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", _("A group cannot end before it starts."))
        if data.get("capacity") and data.get("min_size") and data["min_size"] > data["capacity"]:
            self.add_error("min_size", _("The minimum size cannot be above the capacity."))
        return data


class ScheduleForm(StaffForm):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Weekdays"),
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekdays"}),
    )
    start_time = forms.TimeField(label=_("Starts at"), widget=TimeInput())
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"), min_value=15, max_value=480, initial=90
    )
    interval_weeks = forms.IntegerField(
        label=_("Every n weeks"), min_value=1, max_value=8, initial=1
    )
    first_date = forms.DateField(label=_("First date"), widget=DateInput())
    until = forms.DateField(label=_("Last date"), widget=DateInput(), required=False)
    count = forms.IntegerField(
        label=_("…or the number of sessions"), min_value=1, max_value=260, required=False
    )
    skip_dates = forms.CharField(
        label=_("Dates to skip"),
        required=False,
        help_text=_(
            "Holidays and the like: dates separated by commas, e.g. 2026-12-24, 2026-12-31."
        ),
    )

    def clean_skip_dates(self):
        text = self.cleaned_data.get("skip_dates") or ""
        try:
            return [
                datetime.date.fromisoformat(part.strip())
                for part in text.replace(";", ",").split(",")
                if part.strip()
            ]
        except ValueError:
            raise forms.ValidationError(
                _("Give dates as YYYY-MM-DD separated by commas.")
            ) from None

    def clean(self):
        data = super().clean()
        if data.get("until") is None and data.get("count") is None and not self.has_error("until"):
            self.add_error("until", _("Give either a last date or a number of sessions."))
        elif data.get("until") is not None and data.get("count") is not None:
            self.add_error("count", _("Give either a last date or a number of sessions, not both."))
        return data


class FacilitatorForm(StaffForm):
    role = forms.ChoiceField(label=_("Role in the group"), choices=GroupFacilitator.Role.choices)

    field_order = ["user", "role"]

    def __init__(self, *args, users, institution, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"] = SearchChoiceField(
            label=_("Facilitator"),
            queryset=users,
            url_name="staff:search_staff",
            params={"institution": institution.pk},
            label_from=user_label,
        )
        self.order_fields(self.field_order)


class AddMemberForm(StaffForm):
    referral_source = forms.ChoiceField(
        label=_("Referred by"), choices=Enrollment.ReferralSource.choices
    )
    then = forms.ChoiceField(
        label=_("Then"),
        choices=[
            ("admit", _("Admit now")),
            ("waitlist", _("Put on the waiting list")),
            ("refer", _("Keep as referred")),
        ],
    )

    field_order = ["participant", "referral_source", "then"]

    def __init__(self, *args, participants, group, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["participant"] = SearchChoiceField(
            label=_("Participant"),
            help_text=_("Type a code, an alias or a name."),
            queryset=participants,
            url_name="staff:search_participants",
            params={"not_in_group": group.pk},
            label_from=participant_label,
        )
        self.order_fields(self.field_order)


class EndEnrollmentForm(StaffForm):
    reason = forms.CharField(label=_("Reason"), max_length=500)


# --- Participants ------------------------------------------------------------------------------


class RegisterForm(StaffForm):
    alias = forms.CharField(label=_("Alias"), max_length=100)


def _consent_states():
    short = {
        Consent.Purpose.PARTICIPATION: _("Participation"),
        Consent.Purpose.HEALTH_DATA: _("Health data"),
        Consent.Purpose.CONTACT: _("Reminders"),
        Consent.Purpose.DISCLOSURE: _("Disclosure"),
        Consent.Purpose.RECORDING: _("Recording"),
        Consent.Purpose.RESEARCH: _("Research"),
    }
    choices = [("", _("Any"))]
    for purpose, label in short.items():
        choices.append((f"{purpose}:in_force", _("%(purpose)s: in force") % {"purpose": label}))
        choices.append((f"{purpose}:missing", _("%(purpose)s: none in force") % {"purpose": label}))
    return choices


class ParticipantSearchForm(forms.Form):
    """The participants list's search and filters (all optional, all combined)."""

    q = forms.CharField(
        label=_("Code, alias or name"),
        required=False,
        help_text=_("Names are looked for among the most recently changed 2,000 people."),
    )
    membership = forms.ChoiceField(
        label=_("Membership"),
        required=False,
        choices=[("", _("Any")), *Enrollment.Status.choices, ("none", _("In no group now"))],
    )
    consent = forms.ChoiceField(label=_("Consent"), required=False, choices=_consent_states)

    field_order = ["q", "group", "membership", "consent"]

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"] = SearchChoiceField(
            label=_("Group"),
            queryset=groups,
            url_name="staff:search_groups",
            params={"scope": "clinical"},
            label_from=lambda g: g.name,
            required=False,
        )
        self.order_fields(self.field_order)


class ConsentForm(StaffForm):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Consent.Purpose.choices)
    method = forms.ChoiceField(label=_("Given"), choices=Consent.Method.choices)
    text_version = forms.CharField(label=_("Version of the consent text"), max_length=32)
    recipient = forms.CharField(
        label=_("Recipient (disclosure only)"),
        max_length=200,
        required=False,
        help_text=_("The court, probation officer, employer or programme that may be told."),
    )
    expires_on = forms.DateField(label=_("Expires on"), widget=DateInput(), required=False)

    field_order = ["purpose", "method", "text_version", "group", "recipient", "expires_on"]

    def __init__(self, *args, groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"] = SearchChoiceField(
            label=_("Group (participation only)"),
            queryset=groups,
            url_name="staff:search_groups",
            params={"scope": "clinical"},
            label_from=lambda g: g.name,
            required=False,
        )
        self.order_fields(self.field_order)


class WithdrawConsentForm(StaffForm):
    reason = forms.CharField(label=_("Reason for withdrawal"), max_length=500, required=False)


class IdentityForm(StaffForm):
    alias = forms.CharField(label=_("Alias"), max_length=100)
    legal_name = forms.CharField(label=_("Legal name"), max_length=200, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    reminder_channel = forms.ChoiceField(label=_("Reminders"), choices=Participant.Channel.choices)
    birth_year = forms.IntegerField(
        label=_("Year of birth"), min_value=1900, max_value=2100, required=False
    )


class FollowUpForm(StaffForm):
    outcome = forms.CharField(label=_("What came of it"), max_length=1000)


class GroupEditForm(GroupForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=SupportGroup.Status.choices,
        help_text=_(
            "Planned → active ⇄ paused → ended. A pause cancels the sessions until it resumes; "
            "ending cancels the sessions to come and closes the membership."
        ),
    )
    # A lifecycle move's details (sessions.services.lifecycle).
    resume_on = forms.DateField(label=_("Resumes on (a pause)"), widget=DateInput(), required=False)
    reason = forms.CharField(label=_("Reason for the change of status"), required=False)

    field_order = ["name", "status", "resume_on", "reason"]


class CalendarFilterForm(forms.Form):
    """The calendar's filters; the group and the facilitator are chosen by searching."""

    view = forms.ChoiceField(
        label=_("View"),
        choices=[("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
        required=False,
    )
    whose = forms.ChoiceField(
        label=_("Sessions"),
        choices=[("mine", _("Mine")), ("all", _("Everyone's"))],
        required=False,
    )
    room = forms.ModelChoiceField(
        label=_("Room"), queryset=None, required=False, empty_label=_("All")
    )

    field_order = ["view", "whose", "group", "facilitator", "room"]

    def __init__(self, *args, groups, facilitators, institution, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"] = SearchChoiceField(
            label=_("Group"),
            queryset=groups,
            url_name="staff:search_groups",
            label_from=lambda g: g.name,
            required=False,
        )
        self.fields["facilitator"] = SearchChoiceField(
            label=_("Facilitator"),
            queryset=facilitators,
            url_name="staff:search_staff",
            params={"institution": institution.pk if institution else 0},
            label_from=user_label,
            required=False,
        )
        self.fields["room"].queryset = rooms
        self.order_fields(self.field_order)
