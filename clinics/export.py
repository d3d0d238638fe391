"""The access export (GDPR art. 15): everything Krąg holds about one participant, as data.

The same content as the PDF export of the reports (reports/builders.py): identity, memberships,
consents, attendance, the notes about this person (never a private note, never a group note,
never another member's name), the certificates issued about them, and who read or changed
their record (the audit log's entries on it).
"""

from django.db import transaction
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from audit.services import audit_record

from .models import Participant
from .roles import Role, require_role


def _iso(value):
    return value.isoformat() if value is not None else None


def participant_export_data(participant: Participant) -> dict:
    from attendance.models import AttendanceRecord
    from reports.models import ReportRun
    from sessions.models import SessionNote

    notes = (
        SessionNote.objects.filter(participant=participant, kind=SessionNote.Kind.PARTICIPANT)
        .select_related("session__group")
        .prefetch_related("addenda")
        .order_by("session__starts_at", "id")
    )
    attendance = (
        AttendanceRecord.objects.filter(participant=participant)
        .select_related("session__group")
        .order_by("session__starts_at", "id")
    )
    certificates = ReportRun.objects.filter(
        institution=participant.institution_id,
        type=ReportRun.Type.ATTENDANCE_CERTIFICATE,
        parameters__participant=participant.pk,
    ).order_by("created_at")
    log = AuditEvent.objects.filter(
        object_type=Participant._meta.label_lower, object_id=str(participant.pk)
    ).order_by("created_at", "id")
    return {
        "institution": participant.institution.name,
        "participant": {
            "code": participant.code,
            "alias": participant.alias,
            "legal_name": participant.legal_name,
            "email": participant.email,
            "phone": participant.phone,
            "birth_year": participant.birth_year,
            "language": participant.language,
            "reminder_channel": participant.reminder_channel,
            "registered_at": _iso(participant.created_at),
            "erased_at": _iso(participant.erased_at),
        },
        "enrollments": [
            {
                "group": e.group.name,
                "status": e.status,
                "referral_source": e.referral_source,
                "referred_on": _iso(e.referred_on),
                "joined_on": _iso(e.joined_on),
                "left_on": _iso(e.left_on),
                "end_reason": e.end_reason,
            }
            for e in participant.enrollments.select_related("group").order_by("referred_on", "id")
        ],
        "consents": [
            {
                "purpose": c.purpose,
                "status": c.status,
                "method": c.method,
                "text_version": c.text_version,
                "recipient": c.recipient,
                "granted_at": _iso(c.granted_at),
                "expires_at": _iso(c.expires_at),
                "withdrawn_at": _iso(c.withdrawn_at),
                "withdrawal_reason": c.withdrawal_reason,
                "renewal_needed": c.renewal_needed,
                # The exact text the person agreed to (SPEC: the access export carries it).
                "text": {
                    "version": c.text.version,
                    "language": c.text.language,
                    "valid_from": _iso(c.text.valid_from),
                    "body": c.text.body,
                }
                if c.text_id
                else None,
            }
            for c in participant.consents.select_related("text").order_by("granted_at", "id")
        ],
        "attendance": [
            {
                "group": a.session.group.name,
                "session": a.session.sequence,
                "starts_at": _iso(a.session.starts_at),
                "status": a.status,
                "arrived_at": _iso(a.arrived_at),
                "left_at": _iso(a.left_at),
            }
            for a in attendance
        ],
        "notes": [
            {
                "group": n.session.group.name,
                "session_starts_at": _iso(n.session.starts_at),
                "theme": n.theme,
                "text": n.text,
                "signed_at": _iso(n.signed_at),
                "addenda": [
                    {"text": a.text, "created_at": _iso(a.created_at)} for a in n.addenda.all()
                ],
            }
            for n in notes
        ],
        "certificates_issued": [
            {"recipient": r.parameters.get("recipient", ""), "issued_at": _iso(r.created_at)}
            for r in certificates
        ],
        "record_access_log": [
            {"at": _iso(e.created_at), "by": e.actor_username, "action": e.action} for e in log
        ],
    }


@transaction.atomic
def participant_export(*, participant: Participant, by) -> dict:
    """The access export for a participant's request; institution admins give it out."""
    require_role(by, participant.institution_id, (Role.ADMIN,), _("export a participant's data"))
    data = participant_export_data(participant)
    audit_record(actor=by, action="participant.export", obj=participant, details={"format": "json"})
    return data
