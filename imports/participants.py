"""Importing a list of participants: each row registers a person or changes the one it names
(by code, or by the file's own id an earlier import remembered together with the alias), and
records the consents given on paper. Every write goes through clinics.services and
attendance.services, a batch of rows at a time (their bulk services check each row as the
single-row ones do); a row that changes nothing writes nothing."""

from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from attendance.models import Consent
from attendance.services import consent_grant_many
from clinics.models import Participant
from clinics.services import Refused, participant_register_many, participant_update

from .columns import IDENTITY_COLUMNS, ParticipantRow, consent_start, purposes_in
from .engine import RowImport
from .models import ImportedKey, ImportJob

FIELDS = ("legal_name", "email", "phone", "reminder_channel", "birth_year")
# Rows written at a time: the statements of a batch do not grow with it, its memory does.
BATCH = 500


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
        self.consenting = defaultdict(set)  # participant -> purposes in force
        for pid, purpose in active.values_list("participant_id", "purpose"):
            self.consenting[pid].add(purpose)
        self.seen_codes: set[str] = set()
        self.seen_keys: set[str] = set()
        self.pending: list[tuple[int, dict]] = []

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
        has |= self.consenting.get(pid, set()) if pid else set()
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
        """Keep the row for the next batch. The bulk services write what they accept and
        return what they refuse; what a batch wrote stays until the end, where any problem
        rolls the whole import back, so the rows after a refused one are still checked."""
        self.pending.append((number, row))
        if len(self.pending) >= BATCH:
            self._flush()

    def finish(self) -> None:
        self._flush()

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            self._register([(n, r) for n, r in batch if r["participant_id"] is None])
            self._change([(n, r) for n, r in batch if r["participant_id"] is not None])
        except PermissionDenied as exc:
            for number, _row in batch:
                self.problems.add_service_error(number, exc, {})
        self.progress.tick(written=len(batch))
        self.progress.save()

    def _refused(self, number: int, refused: Refused, consents: list) -> None:
        columns = {f: f for f in ("alias", *FIELDS)}
        if refused.consent is not None:
            columns.update(self._consent_columns([consents[refused.consent]]))
        self.problems.add_service_error(number, refused.error, columns)

    def _fields(self, row: dict) -> dict:
        return {k: row[k] for k in FIELDS if row.get(k) not in (None, "")}

    def _register(self, rows: list) -> None:
        """New people: one call registers them, their consents and the identity those allow."""
        if not rows:
            return
        people = [
            {"alias": row["alias"], "consents": self._consents(row), **self._fields(row)}
            for _number, row in rows
        ]
        outcomes = participant_register_many(
            institution=self.institution, by=self.by, people=people
        )
        keys = []
        for (number, row), person, outcome in zip(rows, people, outcomes, strict=True):
            if isinstance(outcome, Refused):
                self._refused(number, outcome, person["consents"])
                continue
            self.summary.count("created")
            keys += self._remember(row, outcome.pk)
        ImportedKey.objects.bulk_create(keys)

    def _change(self, rows: list) -> None:
        """People known already: their consents not yet recorded in one bulk grant, then the
        fields that differ, person by person (only those that changed). Reads: the people
        and their consents, once for the batch."""
        if not rows:
            return
        people = Participant.objects.in_bulk([row["participant_id"] for _n, row in rows])
        recorded = defaultdict(list)
        for pid, *consent in Consent.objects.filter(participant_id__in=people).values_list(
            "participant_id",
            "purpose",
            "recipient",
            "granted_at",
            "text_version",
            "withdrawn_at",
            "expires_at",
        ):
            recorded[pid].append(tuple(consent))
        grants, granting = [], []
        for index, (_number, row) in enumerate(rows):
            pid = row["participant_id"]
            for consent in self._consents(row):
                if not self._already_recorded(recorded[pid], consent):
                    grants.append({"participant": people[pid], **consent})
                    granting.append((index, consent))
        granted, refused = defaultdict(int), set()
        if grants:
            outcomes = consent_grant_many(grants=grants, by=self.by)
            for (index, consent), outcome in zip(granting, outcomes, strict=True):
                if isinstance(outcome, Refused):
                    self._refused(rows[index][0], Refused(outcome.error, 0), [consent])
                    refused.add(index)
                else:
                    granted[index] += 1
        keys = []
        for index, (number, row) in enumerate(rows):
            if index in refused:
                continue
            participant = people[row["participant_id"]]
            changed = {
                k: v
                for k, v in {"alias": row["alias"], **self._fields(row)}.items()
                if getattr(participant, k) != v
            }
            if changed:
                try:
                    participant_update(participant=participant, by=self.by, **changed)
                except ValidationError as exc:
                    self.problems.add_service_error(number, exc, {f: f for f in ("alias", *FIELDS)})
                    continue
            remembered = self._remember(row, participant.pk)
            keys += remembered
            outcome = "updated" if granted[index] or changed or remembered else "unchanged"
            self.summary.count(outcome)
        ImportedKey.objects.bulk_create(keys)

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

    def _remember(self, row: dict, pid: int) -> list:
        """The file's id of the person, to write (with the batch's others) when it is new.
        It is the imports app's own record, not the participant's, written in the import's
        transaction."""
        key = row.get("id")
        if not key or self.by_key.get(key) == pid:
            return []
        self.by_key[key] = pid
        return [
            ImportedKey(institution=self.institution, key=key, participant_id=pid, job=self.job)
        ]
