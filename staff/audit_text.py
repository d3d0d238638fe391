"""The audit log read as sentences: "anna viewed the record of P-00025", at the institution's
local time, in the user's language. The events themselves keep their stable codes (the CSV
export and the API show those); only the page puts them into words.

The objects an event names are looked up a page at a time, one query per kind of object.
"""

from django.apps import apps
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# What each action says; %(who)s is the user, %(what)s the object the event is about.
SENTENCES = {
    "participant.viewed": gettext_lazy("%(who)s viewed the record of %(what)s"),
    "participant.listed": gettext_lazy("%(who)s saw a list naming %(what)s"),
    "participant.registered": gettext_lazy("%(who)s registered %(what)s"),
    "participant.changed": gettext_lazy("%(who)s changed the identity or contacts of %(what)s"),
    "participant.identity_cleared": gettext_lazy(
        "%(who)s: the name and contacts of %(what)s were removed (health-data consent withdrawn)"
    ),
    "participant.export": gettext_lazy("%(who)s exported the data of %(what)s"),
    "participant.erased": gettext_lazy("%(who)s erased %(what)s"),
    "attendance.recorded": gettext_lazy("%(who)s recorded the attendance of %(what)s"),
    "attendance.corrected": gettext_lazy("%(who)s corrected the attendance of %(what)s"),
    "consent.granted": gettext_lazy("%(who)s recorded a consent of %(what)s"),
    "consent.withdrawn": gettext_lazy("%(who)s recorded the withdrawal of a consent of %(what)s"),
    "consent.expired": gettext_lazy("A consent of %(what)s expired"),
    "enrollment.referred": gettext_lazy("%(who)s referred %(what)s"),
    "enrollment.waitlisted": gettext_lazy("%(who)s put %(what)s on the waiting list"),
    "enrollment.admitted": gettext_lazy("%(who)s admitted %(what)s"),
    "enrollment.walk_in": gettext_lazy("%(who)s added %(what)s as a walk-in"),
    "enrollment.seat_offered": gettext_lazy("%(who)s offered a seat to %(what)s"),
    "enrollment.offer_lapsed": gettext_lazy("The seat offered to %(what)s lapsed"),
    "enrollment.withdrawn": gettext_lazy("%(who)s ended the membership of %(what)s"),
    "enrollment.completed": gettext_lazy("%(who)s recorded %(what)s as completed"),
    "note.signed": gettext_lazy("%(who)s signed a note of %(what)s"),
    "note.addendum": gettext_lazy("%(who)s added an addendum to a note of %(what)s"),
    "follow_up.raised": gettext_lazy("A follow-up was raised for %(what)s"),
    "follow_up.resolved": gettext_lazy("%(who)s closed a follow-up of %(what)s"),
    "group.created": gettext_lazy("%(who)s created the group %(what)s"),
    "group.changed": gettext_lazy("%(who)s changed the group %(what)s"),
    "group.facilitator_set": gettext_lazy("%(who)s set a facilitator of %(what)s"),
    "group.facilitator_removed": gettext_lazy("%(who)s removed a facilitator of %(what)s"),
    "schedule.created": gettext_lazy("%(who)s scheduled the sessions of %(what)s"),
    "session.scheduled": gettext_lazy("%(who)s scheduled %(what)s"),
    "session.rescheduled": gettext_lazy("%(who)s moved %(what)s"),
    "session.cancelled": gettext_lazy("%(who)s cancelled %(what)s"),
    "session.not_held": gettext_lazy("%(who)s recorded %(what)s as not held"),
    "session.changed": gettext_lazy("%(who)s changed %(what)s"),
    "report.request": gettext_lazy("%(who)s requested a report"),
    "report.ready": gettext_lazy("A report was made"),
    "report.failed": gettext_lazy("A report could not be made"),
    "report.download": gettext_lazy("%(who)s downloaded a report"),
    "report.emailed": gettext_lazy("A report was e-mailed"),
    "auth.signed_in": gettext_lazy("%(who)s signed in"),
    "auth.sign_in_failed": gettext_lazy("A sign-in as %(who)s failed"),
    "auth.two_factor_enabled": gettext_lazy("%(who)s turned on two-factor sign-in"),
    "auth.two_factor_disabled": gettext_lazy("%(who)s turned off two-factor sign-in"),
    "auth.two_factor_failed": gettext_lazy("%(who)s gave a wrong two-factor code"),
    "audit.exported": gettext_lazy("%(who)s exported the audit log"),
    "api.token_issued": gettext_lazy("%(who)s signed in to the mobile app"),
    "api.token_revoked": gettext_lazy("%(who)s signed out of the mobile app"),
    "api.calendar_feed_issued": gettext_lazy("%(who)s made a calendar address"),
    "api.calendar_feed_revoked": gettext_lazy("%(who)s revoked a calendar address"),
    "notification.sent": gettext_lazy("A message was sent about %(what)s"),
    "membership.saved": gettext_lazy("%(who)s changed a staff role"),
    "site.saved": gettext_lazy("%(who)s changed a site"),
    "room.saved": gettext_lazy("%(who)s changed a room"),
}

# How to name the object of each kind (object_type → the fields read and how they read).
PARTICIPANT_PATHS = {
    "clinics.participant": "code",
    "attendance.enrollment": "participant__code",
    "attendance.consent": "participant__code",
    "attendance.attendancerecord": "participant__code",
    "attendance.followuptask": "enrollment__participant__code",
}


NAMED = {
    **{kind: path for kind, path in PARTICIPANT_PATHS.items()},
    "group_sessions.supportgroup": "name",
    "group_sessions.session": ("group__name", "sequence"),
    "group_sessions.sessionnote": ("session__group__name", "session__sequence"),
}


def _names(events, listed_ids) -> dict[tuple[str, str], str]:
    """{(object_type, object_id): how the object reads}, in one query for every page: a UNION
    of one part per kind of object (a kind absent from the page asks for no row), so that a
    page costs the same whatever mix of events it shows."""
    from django.db.models import CharField, F, Value
    from django.db.models.functions import Cast, Concat

    ids: dict[str, set[int]] = {kind: set() for kind in NAMED}
    for event in events:
        if event.object_type in ids and event.object_id.isdigit():
            ids[event.object_type].add(int(event.object_id))
    ids["clinics.participant"] |= set(listed_ids)
    parts = []
    for kind, path in NAMED.items():
        model = apps.get_model(kind)
        if isinstance(path, tuple):
            name = Concat(
                F(path[0]), Value(" #"), Cast(F(path[1]), CharField()), output_field=CharField()
            )
        else:
            name = Cast(F(path), CharField())
        parts.append(
            model._base_manager.filter(pk__in=sorted(ids[kind]) or [0])
            .annotate(krag_kind=Value(kind, output_field=CharField()), krag_label=name)
            .values_list("krag_kind", "pk", "krag_label")
            .order_by()
        )
    rows = parts[0].union(*parts[1:], all=True)
    return {(kind, str(pk)): label for kind, pk, label in rows}


def audit_rows(events) -> list[dict]:
    """Each event with its sentence and its local date, for the audit page."""
    events = list(events)
    if not events:
        return []
    listed_ids = {
        pk for e in events if e.action == "participant.listed" for pk in e.details.get("ids", [])
    }
    names = _names(events, listed_ids)
    codes = {int(pk): label for (kind, pk), label in names.items() if kind == "clinics.participant"}
    rows = []
    for event in events:
        who = event.actor_username or event.details.get("username") or _("the system")
        if event.action == "participant.listed":
            shown = [codes.get(pk, "?") for pk in event.details.get("ids", [])]
            what = ", ".join(shown[:5]) + ("…" if len(shown) > 5 else "")
        else:
            what = names.get((event.object_type, event.object_id)) or (
                _("an object that no longer exists") if event.object_type else ""
            )
        template = SENTENCES.get(event.action)
        if template is None:
            sentence = f"{who}: {event.action}" + (f" ({what})" if what else "")
        else:
            sentence = str(template) % {"who": who, "what": what}
        tz = event.institution.tzinfo if event.institution_id else timezone.get_current_timezone()
        local = timezone.localtime(event.created_at, tz)
        rows.append(
            {
                "event": event,
                "sentence": sentence,
                "when": date_format(local, "j E Y, H:i"),
            }
        )
    return rows
