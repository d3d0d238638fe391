"""Search: the pickers' paged JSON answers and the header's search page.

Every answer is scoped through the user (another institution's rows never appear) and paged
(`PAGE_SIZE` rows and a `next` address), so its cost does not grow with the institution.
"""

from urllib.parse import urlencode

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from clinics.models import Institution
from clinics.roles import CLINICAL_ROLES

from .. import search
from ..access import get_group, staff_view
from ..widgets import participant_label, session_label, user_label


def _page(request) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


def _one_page(request, rows) -> tuple[list, str | None]:
    """One page of `rows` (a queryset) and the address of the next page, or None."""
    page = _page(request)
    start = (page - 1) * search.PAGE_SIZE
    found = list(rows[start : start + search.PAGE_SIZE + 1])
    more = len(found) > search.PAGE_SIZE
    found = found[: search.PAGE_SIZE]
    next_url = None
    if more:
        query = request.GET.copy()
        query["page"] = page + 1
        next_url = f"{request.path}?{query.urlencode()}"
    return found, next_url


def _answer(request, rows, label) -> JsonResponse:
    """{"results": [{"id", "text"}], "next": the next page's address or null}."""
    found, next_url = _one_page(request, rows)
    return JsonResponse(
        {"results": [{"id": o.pk, "text": label(o)} for o in found], "next": next_url}
    )


@never_cache
@staff_view
def participants_json(request):
    """Participants by code, alias or legal name; `not_in_group` leaves out those already in,
    waiting for or referred to that group (the candidates for adding)."""
    people = search.participants_in_scope(request.user).not_erased()
    if request.GET.get("not_in_group"):
        group = get_group(request.user, request.GET["not_in_group"])
        people = people.filter(institution=group.institution_id).exclude(
            pk__in=group.enrollments.open().values("participant_id")
        )
    found = search.search_participants(request.user, request.GET.get("q", ""), people)
    rows = found.queryset.select_related("institution").order_by("number", "pk")
    shown, next_url = _one_page(request, rows)
    search.record_names_shown(request.user, shown, found.names)
    results = [{"id": p.pk, "text": participant_label(p, found.names.get(p.pk, ""))} for p in shown]
    return JsonResponse({"results": results, "next": next_url})


@never_cache
@staff_view
def groups_json(request):
    roles = CLINICAL_ROLES if request.GET.get("scope") == "clinical" else None
    groups = search.search_groups(request.user, request.GET.get("q", ""), roles=roles)
    return _answer(request, groups, lambda g: g.name)


@never_cache
@staff_view
def sessions_json(request):
    sessions = search.search_sessions(request.user, request.GET.get("q", ""))
    return _answer(request, sessions, session_label)


@never_cache
@staff_view
def staff_json(request):
    """Facilitators and admins of one of the user's institutions (who can lead a group)."""
    try:
        institution = Institution.objects.for_user(request.user).get(
            pk=int(request.GET.get("institution", ""))
        )
    except (ValueError, Institution.DoesNotExist):
        raise Http404 from None
    return _answer(request, search.search_staff(institution, request.GET.get("q", "")), user_label)


HEADER_LIMIT = 10


@never_cache
@staff_view
def search_page(request):
    """The header's search box: participants, groups and sessions matching one query."""
    query = request.GET.get("q", "").strip()
    context = {"nav": "search", "query": query, "header_query": query}
    if query:
        user = request.user
        found = search.search_participants(user, query, search.participants_in_scope(user))
        people = list(
            found.queryset.select_related("institution").order_by("number", "pk")[
                : HEADER_LIMIT + 1
            ]
        )
        search.record_names_shown(user, people[:HEADER_LIMIT], found.names)
        groups = list(search.search_groups(user, query)[: HEADER_LIMIT + 1])
        sessions = list(search.search_sessions(user, query)[: HEADER_LIMIT + 1])
        context.update(
            {
                "people": [
                    {"participant": p, "name": found.names.get(p.pk, "")}
                    for p in people[:HEADER_LIMIT]
                ],
                "more_people": len(people) > HEADER_LIMIT,
                "people_url": "?" + urlencode({"q": query}),
                "names_partial": found.names_partial,
                "groups": groups[:HEADER_LIMIT],
                "more_groups": len(groups) > HEADER_LIMIT,
                "sessions": sessions[:HEADER_LIMIT],
                "more_sessions": len(sessions) > HEADER_LIMIT,
            }
        )
    return render(request, "staff/search.html", context)
