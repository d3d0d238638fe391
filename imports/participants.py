"""Importing a list of participants: each row registers a person or changes the one it names
(by code, or by the file's own id an earlier import remembered together with the alias), and
records the consents given on paper. Every write goes through clinics.services and
attendance.services; a row that changes nothing writes nothing."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from attendance.models import Consent
from attendance.services import consent_grant
from clinics.models import Participant
from clinics.services import participant_register, participant_update

from .columns import IDENTITY_COLUMNS, ParticipantRow, consent_start, purposes_in
from .engine import RowImport
from .models import ImportedKey, ImportJob

FIELDS = ("legal_name", "email", "phone", "reminder_channel", "birth_year")


class ParticipantImport(RowImport):
    def __init__(self, job: ImportJob, **context):
        super().__init__(job, **context)
        self.purposes = purposes_in(self.columns)
        # What the rows refer to, read once: codes, the ids of earlier imports, the consents
        # that let a person be named or reminded.
        people = Participant.objects.filter(institution=self.institution)
        self.by_code = {
            code: (pk, alias, erased is not None)
            for pk, code, alias, erased in people.values_list("pk", "code", "alias", "erased_at")
        }
        self.alias_of = {pk: alias for pk, alias, _erased in self.by_code.values()}
        self.by_key = dict(
            ImportedKey.objects.filter(institution=self.institution).values_list(
                "key", "participant_id"
            )
        )
        active = Consent.objects.active().filter(
            institution=self.institution,
            purpose__in=[Consent.Purpose.HEALTH_DATA, Consent.Purpose.CONTACT],
        )
        self.consenting = set(active.values_list("participant_id", "purpose"))
        self.seen_codes: set[str] = set()
        self.seen_keys: set[str] = set()

    # --- checking --------------------------------------------------------------------------

    def check(self, number: int, data: dict) -> dict | None:
        form = ParticipantRow(
            data, purposes=self.purposes, today=self.institution.local_now().date()
        )
        if not form.is_valid():
            self.problems.add_form_errors(number, form)
            return None
        row = {k: v for k, v in form.cleaned_data.items() if k in self.columns}
        code, key = row.get("code") or "", row.get("id") or ""
        pid = None
        if code:
            code = code.upper()
            row["code"] = code
            if code in self.seen_codes:
                return self._problem(number, "code", "duplicate", _("This code appears twice."))
            self.seen_codes.add(code)
            found = self.by_code.get(code)
            if found is None:
                return self._problem(
                    number,
                    "code",
                    "unknown_code",
                    _("No participant has the code %(code)s.") % {"code": code},
                )
            pid, _alias, erased = found
            if erased:
                return self._problem(
                    number, "code", "erased", _("This participant's data has been erased.")
                )
        if key:
            if key in self.seen_keys:
                return self._problem(number, "id", "duplicate", _("This id appears twice."))
            self.seen_keys.add(key)
            known = self.by_key.get(key)
            if known is not None and pid is None:
                if self.alias_of.get(known, "").casefold() != row["alias"].casefold():
                    return self._problem(
                        number,
                        "id",
                        "id_conflict",
                        _(
                            "An earlier import gave this id to a participant with another alias; "
                            "give the participant's code to change the alias."
                        ),
                    )
                pid = known
            elif known is not None and known != pid:
                return self._problem(
                    number,
                    "id",
                    "id_conflict",
                    _("An earlier import gave this id to another participant."),
                )
        row["participant_id"] = pid
        self._check_consents(number, row, pid)
        return row

    def _check_consents(self, number: int, row: dict, pid) -> None:
        """Identity needs the health-data consent, reminders the contact consent: given in the
        row itself or already in force (the services ask the same when the row is written)."""
        has = {p for p in self.purposes if row.get(f"consent_{p}_date")}
        has |= {purpose for (p, purpose) in self.consenting if p == pid} if pid else set()
        if Consent.Purpose.HEALTH_DATA not in has:
            for column in IDENTITY_COLUMNS:
                if row.get(column) not in (None, ""):
                    self.problems.add(
                        number,
                        column,
                        "consent_required",
                        _(
                            "Without consent to the processing of health-related data only an "
                            "alias can be registered."
                        ),
                    )
        channel = row.get("reminder_channel")
        if channel not in (None, "", "none") and Consent.Purpose.CONTACT not in has:
            self.problems.add(
                number,
                "reminder_channel",
                "consent_required",
                _("Reminders need the participant's consent to be contacted."),
            )

    def _problem(self, number, column, code, message):
        self.problems.add(number, column, code, message)
        return None

    # --- writing ---------------------------------------------------------------------------

    def write(self, number: int, row: dict) -> None:
        """One row through the services. Each service undoes its own refused write (its own
        savepoint); what a row's earlier services wrote stays until the end, where any problem
        rolls the whole import back, so a row needs no savepoint of its own (two statements a
        row fewer), and the rows after a refused one are still checked."""
        try:
            outcome = self._write(row)
        except (ValidationError, PermissionDenied) as exc:
            self.problems.add_service_error(number, exc, self._service_columns)
            return
        self.summary.count(outcome)

    def finish(self) -> None:
        pass

    def _consents(self, row: dict) -> list[dict]:
        consents = []
        for purpose in self.purposes:
            day = row.get(f"consent_{purpose}_date")
            if not day:
                continue
            consents.append(
                {
                    "purpose": purpose,
                    "method": Consent.Method.SIGNED_FORM,
                    "text_version": row[f"consent_{purpose}_version"],
                    "granted_at": consent_start(day, self.tz),
                    "recipient": row.get("consent_disclosure_recipient", "")
                    if purpose == Consent.Purpose.DISCLOSURE
                    else "",
                }
            )
        return consents

    def _write(self, row: dict) -> str:
        consents = self._consents(row)
        fields = {k: row[k] for k in FIELDS if row.get(k) not in (None, "")}
        # Consent errors name the purpose's date column; the rest are the participant's fields.
        self._service_columns = {f: f for f in ("alias", *FIELDS)}
        pid = row["participant_id"]
        if pid is None:
            # One call registers the person, their consents and then the identity those allow;
            # a consent's refusal names the first consent's columns (the checks before the
            # services name each consent's own).
            if consents:
                self._service_columns.update(self._consent_columns(consents))
            participant = participant_register(
                institution=self.institution,
                by=self.by,
                alias=row["alias"],
                consents=consents,
                **fields,
            )
            self._remember(row, participant)
            return "created"
        participant = Participant.objects.get(pk=pid)
        recorded = list(
            Consent.objects.filter(participant=participant).values_list(
                "purpose", "recipient", "granted_at", "text_version", "withdrawn_at", "expires_at"
            )
        )
        granted = 0
        for consent in consents:
            if self._already_recorded(recorded, consent):
                continue
            self._service_columns.update(self._consent_columns([consent]))
            consent_grant(participant=participant, by=self.by, **consent)
            granted += 1
        changed = {
            k: v
            for k, v in {"alias": row["alias"], **fields}.items()
            if getattr(participant, k) != v
        }
        if changed:
            participant_update(participant=participant, by=self.by, **changed)
        remembered = self._remember(row, participant)
        return "updated" if granted or changed or remembered else "unchanged"

    @staticmethod
    def _consent_columns(consents) -> dict:
        column = f"consent_{consents[0]['purpose']}_date"
        return {
            "purpose": column,
            "granted_at": column,
            "expires_at": column,
            "text_version": f"consent_{consents[0]['purpose']}_version",
            "recipient": "consent_disclosure_recipient",
            "__all__": column,
        }

    def _already_recorded(self, recorded: list, consent: dict) -> bool:
        """The paper consent is in Krąg already: one in force for that purpose (and recipient),
        or this very grant (same day, same text), even if withdrawn since — importing the file
        again must not undo a withdrawal. `recorded`: the person's consents, read once."""
        now = self.now
        for purpose, recipient, granted_at, version, withdrawn_at, expires_at in recorded:
            if purpose != consent["purpose"]:
                continue
            if consent["recipient"] and recipient.casefold() != consent["recipient"].casefold():
                continue
            in_force = (
                granted_at <= now
                and (withdrawn_at is None or withdrawn_at > now)
                and (expires_at is None or expires_at > now)
            )
            if in_force or (granted_at, version) == (
                consent["granted_at"],
                consent["text_version"],
            ):
                return True
        return False

    def _remember(self, row: dict, participant) -> bool:
        key = row.get("id")
        if not key or self.by_key.get(key) == participant.pk:
            return False
        # The file's id is the imports app's own record, not the participant's: it is
        # written here, in the import's transaction.
        ImportedKey.objects.create(
            institution=self.institution, key=key, participant=participant, job=self.job
        )
        self.by_key[key] = participant.pk
        return True
