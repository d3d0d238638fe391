"""The floor of the benchmark: bare Django views that do exactly the work of the API's reads.

Each floor answers with the same JSON as its endpoint — the same rows in the same order, the
same fields and labels ({"id", "display"} of institutions, groups, rooms with their site,
facilitators and substitutes), times converted to the current time zone as the API writes
them, the same `count`, `next` and `previous` (the count kept as api/paginator.py keeps it),
the same ETag on a roster, the same `participant.listed` audit row for a page of people, and
the audit log paged by the same cursor. tests/bench/test_floor.py compares the two answers
whole. What a floor leaves out is the framework: no DRF, no serializers, no filter sets —
the token check (every real request pays for it), the tenant scope and the filters written
out by hand, `.values()` and `JsonResponse`. What the API costs beyond these is the price of
its framework.

Mounted under /bench-floor/ only when KRAG_BENCH_FLOOR=1 (config/urls.py); never in production.
"""

import datetime
import hashlib
import urllib.parse

from django.core.paginator import EmptyPage
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.urls import path
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from api.authentication import TokenAuthentication
from api.paginator import CountOncePaginator
from attendance.models import AttendanceRecord, Enrollment
from audit.models import AuditEvent
from audit.pagination import cursor_of, position
from audit.services import audit_record, listed_details
from clinics.models import Institution, Participant, StaffMembership
from clinics.querysets import memberships_of
from clinics.roles import CLINICAL_ROLES
from sessions.models import GroupFacilitator, Session
from sessions.querysets import groups_led_by

COMPACT = {"ensure_ascii": False, "separators": (",", ":")}  # as DRF's JSONRenderer writes


def _user(request):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        raise Http404
    try:
        user, _token = TokenAuthentication().authenticate_credentials(header[6:].encode())
    except AuthenticationFailed:
        raise Http404 from None
    return user


def _institutions(user, roles=None) -> list[int]:
    return [i for i, role in memberships_of(user).items() if not roles or role in roles]


def _iso(value):
    """A datetime as the API writes it: in the current time zone, ISO 8601 ("Z" for UTC)."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _name(first, last, username):
    full = f"{first} {last}".strip()
    return full or username


def _link(request, **params):
    """This request's absolute address with `params` replaced (None: removed), sorted as
    DRF's replace_query_param leaves them."""
    url = urllib.parse.urlsplit(request.build_absolute_uri())
    query = dict(urllib.parse.parse_qs(url.query, keep_blank_values=True))
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = [value]
    encoded = urllib.parse.urlencode(sorted(query.items()), doseq=True)
    return urllib.parse.urlunsplit((url.scheme, url.netloc, url.path, encoded, url.fragment))


def _page(request, queryset, size_default=50):
    """One page by number, its count as the API keeps it (CountOncePaginator), and its links."""
    size = int(request.GET.get("page_size") or size_default)
    if not 1 <= size <= 200:
        raise Http404
    paginator = CountOncePaginator(queryset, size)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except EmptyPage:
        raise Http404 from None
    previous = None
    if page.has_previous():
        number = page.previous_page_number()
        previous = _link(request, page=None if number == 1 else str(number))
    return {
        "count": paginator.count,
        "next": _link(request, page=str(page.next_page_number())) if page.has_next() else None,
        "previous": previous,
        "rows": list(page.object_list),
    }


def _respond(body):
    return JsonResponse(body, json_dumps_params=COMPACT)


# --- Sessions ------------------------------------------------------------------------------

SESSION_COLUMNS = (
    "id", "institution_id", "institution__name", "group_id", "group__name", "sequence",
    "starts_at", "ends_at", "room_id", "room__name", "room__site__name", "online_link", "status",
    "theme", "substitute_facilitator_id", "substitute_facilitator__username",
    "substitute_facilitator__first_name", "substitute_facilitator__last_name", "cancelled_by",
    "cancellation_reason", "cancelled_at", "created_at", "updated_at",
)  # fmt: skip


def sessions(request):
    """GET /api/v1/sessions/ with starts_after, starts_before, mine and facilitator."""
    user = _user(request)
    rows = Session.objects.filter(institution_id__in=_institutions(user))
    if "starts_after" in request.GET:
        rows = rows.filter(
            starts_at__gte=datetime.datetime.fromisoformat(request.GET["starts_after"])
        )
    if "starts_before" in request.GET:
        rows = rows.filter(
            starts_at__lt=datetime.datetime.fromisoformat(request.GET["starts_before"])
        )
    lead = user.pk if request.GET.get("mine") == "true" else request.GET.get("facilitator")
    if lead:
        lead = int(lead)
        rows = rows.filter(Q(group_id__in=groups_led_by(lead)) | Q(substitute_facilitator_id=lead))
    page = _page(request, rows.order_by("starts_at", "id").values(*SESSION_COLUMNS))
    facilitators = {}
    for f in (
        GroupFacilitator.objects.filter(group_id__in={r["group_id"] for r in page["rows"]})
        .order_by("group_id", "role", "user__username")
        .values("group_id", "role", "user_id", "user__username", "user__first_name", "user__last_name")
    ):  # fmt: skip
        facilitators.setdefault(f["group_id"], []).append(
            {
                "user": {
                    "id": f["user_id"],
                    "display": _name(f["user__first_name"], f["user__last_name"], f["user__username"]),
                },
                "role": f["role"],
            }
        )  # fmt: skip
    results = []
    for r in page["rows"]:
        room = None
        if r["room_id"]:
            room = {"id": r["room_id"], "display": f"{r['room__name']} ({r['room__site__name']})"}
        substitute = None
        if r["substitute_facilitator_id"]:
            substitute = {
                "id": r["substitute_facilitator_id"],
                "display": _name(
                    r["substitute_facilitator__first_name"],
                    r["substitute_facilitator__last_name"],
                    r["substitute_facilitator__username"],
                ),
            }
        link = r["online_link"]
        results.append(
            {
                "id": r["id"],
                "institution": {"id": r["institution_id"], "display": r["institution__name"]},
                "group": {"id": r["group_id"], "display": r["group__name"]},
                "sequence": r["sequence"],
                "starts_at": _iso(r["starts_at"]),
                "ends_at": _iso(r["ends_at"]),
                "room": room,
                "online_link": link,
                "format": "hybrid" if r["room_id"] and link else "online" if link else "in_person",
                "status": r["status"],
                "theme": r["theme"],
                "facilitators": facilitators.get(r["group_id"], []),
                "substitute_facilitator": substitute,
                "cancelled_by": r["cancelled_by"],
                "cancellation_reason": r["cancellation_reason"],
                "cancelled_at": _iso(r["cancelled_at"]),
                "created_at": _iso(r["created_at"]),
                "updated_at": _iso(r["updated_at"]),
            }
        )
    return _respond(
        {"count": page["count"], "next": page["next"], "previous": page["previous"], "results": results}
    )  # fmt: skip


def roster(request, pk):
    """GET /api/v1/sessions/{id}/attendance/: the members on the session's day and their marks."""
    user = _user(request)
    session = (
        Session.objects.filter(pk=pk, institution_id__in=_institutions(user, CLINICAL_ROLES))
        .values("id", "group_id", "group__name", "sequence", "starts_at", "status", "institution__time_zone")
        .first()
    )  # fmt: skip
    if session is None:
        raise Http404
    tz = Institution(time_zone=session["institution__time_zone"]).tzinfo
    day = timezone.localtime(session["starts_at"], tz).date()
    members = (
        Enrollment.objects.filter(group_id=session["group_id"])
        .members_on(day)
        .order_by("participant__number")
        .values("id", "participant_id", "participant__alias", "is_walk_in")
    )
    records = {
        r["participant_id"]: r
        for r in AttendanceRecord.objects.filter(session_id=pk).values(
            "id", "participant_id", "participant__alias", "participant__number", "enrollment_id",
            "enrollment__is_walk_in", "status", "arrived_at", "left_at", "version", "recorded_at",
        )
    }  # fmt: skip

    def line(participant, alias, enrollment, walk_in, on_roster, record):
        record = record or {}
        arrived, left = record.get("arrived_at"), record.get("left_at")
        return {
            "participant": {"id": participant, "display": alias},
            "enrollment": enrollment,
            "is_walk_in": walk_in,
            "on_roster": on_roster,
            "status": record.get("status"),
            "arrived_at": arrived.isoformat() if arrived else None,
            "left_at": left.isoformat() if left else None,
            "version": record.get("version"),
            "recorded_at": _iso(record.get("recorded_at")),
        }

    marks = [
        line(m["participant_id"], m["participant__alias"], m["id"], m["is_walk_in"], True,
             records.pop(m["participant_id"], None))
        for m in members
    ]  # fmt: skip
    marks += [
        line(r["participant_id"], r["participant__alias"], r["enrollment_id"],
             r["enrollment__is_walk_in"], False, r)
        for r in sorted(records.values(), key=lambda r: (r["participant__number"], r["id"]))
    ]  # fmt: skip
    body = {
        "session": {"id": session["id"], "display": f"{session['group__name']} #{session['sequence']}"},
        "session_status": session["status"],
        "marks": marks,
    }  # fmt: skip
    response = _respond(body)
    response["ETag"] = f'"{hashlib.sha256(response.content).hexdigest()[:40]}"'
    return response


# --- Participants --------------------------------------------------------------------------

PARTICIPANT_COLUMNS = (
    "id", "institution_id", "institution__name", "code", "alias", "legal_name", "email", "phone",
    "reminder_channel", "birth_year", "language", "erased_at", "created_at", "updated_at",
)  # fmt: skip


def participants(request):
    """GET /api/v1/participants/: a page of people, legal names decrypted where stored, and the
    read logged as one `participant.listed` event per institution on the page."""
    user = _user(request)
    rows = Participant.objects.filter(
        institution_id__in=_institutions(user, CLINICAL_ROLES)
    ).order_by("institution_id", "number")
    page = _page(request, rows.values(*PARTICIPANT_COLUMNS))
    shown: dict[int, list] = {}
    for r in page["rows"]:
        shown.setdefault(r["institution_id"], []).append(r)
    for institution_id, people in shown.items():
        audit_record(
            actor=user,
            action="participant.listed",
            institution=Institution(pk=institution_id, name=people[0]["institution__name"]),
            details=listed_details([Participant(pk=p["id"]) for p in people]),
        )
    results = [
        {
            "id": r["id"],
            "institution": {"id": r["institution_id"], "display": r["institution__name"]},
            "code": r["code"],
            "display": r["alias"],
            "alias": r["alias"],
            "legal_name": r["legal_name"],
            "email": r["email"],
            "phone": r["phone"],
            "reminder_channel": r["reminder_channel"],
            "birth_year": r["birth_year"],
            "language": r["language"],
            "is_erased": r["erased_at"] is not None,
            "created_at": _iso(r["created_at"]),
            "updated_at": _iso(r["updated_at"]),
        }
        for r in page["rows"]
    ]
    return _respond(
        {"count": page["count"], "next": page["next"], "previous": page["previous"], "results": results}
    )  # fmt: skip


# --- Attendance, changed since (the sync path's page-number list) --------------------------


def attendance(request):
    if "sync" in request.GET or "cursor" in request.GET:
        return attendance_sync(request)
    user = _user(request)
    since = datetime.datetime.fromisoformat(request.GET["updated_since"])
    rows = AttendanceRecord.objects.filter(
        institution_id__in=_institutions(user, CLINICAL_ROLES), updated_at__gte=since
    ).order_by("updated_at", "id")
    fields = (
        "id", "institution_id", "session_id", "session__group__name", "session__starts_at",
        "participant_id", "participant__alias", "status", "arrived_at", "left_at",
        "recorded_by_id", "recorded_by__username", "recorded_at", "source", "version",
        "created_at", "updated_at",
    )  # fmt: skip
    page = _page(request, rows.values(*fields))
    return JsonResponse(
        {"count": page["count"], "results": page["rows"]}, json_dumps_params=COMPACT
    )


# --- Attendance, the app's sync (api/sync.py's cursor pages) ------------------------------

SYNC_COLUMNS = (
    "id", "change_number", "institution_id", "institution__name", "session_id",
    "session__group__name", "session__sequence", "participant_id", "participant__alias",
    "status", "arrived_at", "left_at", "recorded_by_id", "recorded_by__username",
    "recorded_by__first_name", "recorded_by__last_name", "recorded_at", "source", "version",
    "created_at", "updated_at",
)  # fmt: skip


def _time(value):
    return value.isoformat() if value is not None else None


def attendance_sync(request):
    """`?sync=start` and its cursor pages: the full copy of a user's marks, 100 a page, in
    change order by the keyset `(change_number, id)`, the cursor signed as the API signs it."""
    from django.core import signing

    from api import sync
    from sync.changes import watermark

    user = _user(request)
    size = int(request.GET.get("page_size") or sync.DEFAULT_PAGE_SIZE)
    if "cursor" in request.GET:
        try:
            state = signing.loads(request.GET["cursor"], salt=sync.SALT, max_age=sync.TOKEN_MAX_AGE)
        except signing.BadSignature:
            raise Http404 from None
        if state.get("k") != "page" or state.get("l") != "attendance" or state.get("u") != user.pk:
            raise Http404
    elif request.GET.get("sync") == "start":
        state = {"k": "page", "l": "attendance", "u": user.pk, "f": {}, "s": None,
                 "w": watermark(), "a": None, "g": None}  # fmt: skip
    else:
        raise Http404
    if state["s"] is not None or state["f"]:
        raise Http404  # the floor has the full copy only, as the benchmark asks for it
    rows = AttendanceRecord.objects.filter(institution_id__in=_institutions(user, CLINICAL_ROLES))
    if state["a"]:
        rows = rows.filter(sync._after(AttendanceRecord, *state["a"]))
    page = list(rows.order_by("change_number", "id").values(*SYNC_COLUMNS)[:size])
    results = [
        {
            "id": r["id"],
            "institution": {"id": r["institution_id"], "display": r["institution__name"]},
            "session": {
                "id": r["session_id"],
                "display": f"{r['session__group__name']} #{r['session__sequence']}",
            },
            "participant": {"id": r["participant_id"], "display": r["participant__alias"]},
            "status": r["status"],
            "arrived_at": _time(r["arrived_at"]),
            "left_at": _time(r["left_at"]),
            "recorded_by": None
            if r["recorded_by_id"] is None
            else {
                "id": r["recorded_by_id"],
                "display": _name(
                    r["recorded_by__first_name"],
                    r["recorded_by__last_name"],
                    r["recorded_by__username"],
                ),
            },
            "recorded_at": _iso(r["recorded_at"]),
            "source": r["source"],
            "version": r["version"],
            "created_at": _iso(r["created_at"]),
            "updated_at": _iso(r["updated_at"]),
        }
        for r in page
    ]
    body = {"next": None, "results": results}
    if len(page) == size:
        state["a"] = [page[-1]["change_number"], page[-1]["id"]]
        cursor = signing.dumps(state, salt=sync.SALT, compress=True)
        url = request.build_absolute_uri(request.path)
        query = {"cursor": cursor}
        if "page_size" in request.GET:
            query["page_size"] = size
        body["next"] = f"{url}?{urllib.parse.urlencode(query)}"
    else:
        body["sync_token"] = signing.dumps(
            {"k": "token", "l": "attendance", "u": user.pk, "f": {}, "c": state["w"]},
            salt=sync.SALT,
            compress=True,
        )
    return _respond(body)


# --- The audit log -------------------------------------------------------------------------


def audit_events(request):
    """GET /api/v1/audit-events/: an admin's institutions' log, newest first, by cursor."""
    user = _user(request)
    admin_of = _institutions(user, [StaffMembership.Role.ADMIN])
    events = AuditEvent.objects.filter(institution_id__in=admin_of)
    size = int(request.GET.get("page_size") or 50)
    older = request.GET.get("older")
    ordered = events.order_by("-created_at", "-id")
    if older:
        at, pk = position(older)
        ordered = ordered.filter(created_at__lte=at).exclude(created_at=at, pk__gte=pk)
    columns = ("id", "created_at", "institution_id", "institution__name", "actor_username",
               "action", "object_type", "object_id", "ip_address", "client", "details")  # fmt: skip
    rows = list(ordered.values(*columns)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]

    def cursor(row):
        return cursor_of(AuditEvent(pk=row["id"], created_at=row["created_at"]))

    results = [
        {
            "id": r["id"],
            "created_at": _iso(r["created_at"]),
            "institution": {"id": r["institution_id"], "display": r["institution__name"]}
            if r["institution_id"]
            else None,
            "actor_username": r["actor_username"],
            "action": r["action"],
            "object_type": r["object_type"],
            "object_id": r["object_id"],
            "ip_address": r["ip_address"],
            "client": r["client"],
            "details": r["details"],
        }
        for r in rows
    ]
    return _respond(
        {
            "next": _link(request, older=cursor(rows[-1]), newer=None) if rows and more else None,
            "previous": _link(request, newer=cursor(rows[0]), older=None) if rows and older else None,
            "results": results,
        }
    )  # fmt: skip


urlpatterns = [
    path("sessions/", sessions),
    path("sessions/<int:pk>/attendance/", roster),
    path("participants/", participants),
    path("attendance/", attendance),
    path("audit-events/", audit_events),
]
