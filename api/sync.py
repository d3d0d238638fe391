"""Sync tokens and cursor pages: the mobile app's offline copy (SPEC.md "Sync", docs/sync.md).

`GET <list>/?sync=start` walks what the user sees in change order, `(change_number, id)`, by a
keyset cursor: no COUNT, no OFFSET, page 1 000 costs what page 1 does. The last page carries a
`sync_token`; `GET <list>/?sync_token=…` answers what changed since, rows that left the user's
view as `{"id": …, "removed": true}`, and the next token.

Tokens and cursors are signed (django.core.signing) and name the user, the list and the
filters: a token of another list or user, altered, or older than TOKEN_MAX_AGE is 410 Gone.
The numbers they carry come from sync.changes.watermark(), taken when a sync begins.
"""

from django.core import signing
from django.db.models import BooleanField, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.http import QueryDict
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from clinics.querysets import memberships_of
from sync.changes import TOKEN_MAX_AGE, watermark
from sync.models import ScopeChange, Tombstone

SALT = "krag.api.sync"
# Query parameters that steer the sync rather than filter the list.
SYNC_PARAMS = ("sync", "sync_token", "cursor", "page", "page_size", "ordering", "format")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


class SyncTokenGone(exceptions.APIException):
    """410: the app starts over with `sync=start`."""

    status_code = status.HTTP_410_GONE
    default_detail = "This sync token is not valid any more; start over with sync=start."
    default_code = "sync_token_invalid"


def is_sync_request(request) -> bool:
    params = request.query_params
    return "sync" in params or "sync_token" in params or "cursor" in params


def _sign(payload: dict) -> str:
    return signing.dumps(payload, salt=SALT, compress=True)


def _unsign(value: str, *, kind: str, view) -> dict:
    try:
        payload = signing.loads(value, salt=SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise SyncTokenGone(
            _("This sync token has expired; start over with sync=start."),
            code="sync_token_expired",
        ) from None
    except signing.BadSignature:
        raise SyncTokenGone() from None
    if (
        not isinstance(payload, dict)
        or payload.get("k") != kind
        or payload.get("l") != view.basename
        or payload.get("u") != view.request.user.pk
    ):
        # A token of another list or of another user is as unknown as a made-up one.
        raise SyncTokenGone()
    return payload


def _page_size(request) -> int:
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise exceptions.ValidationError(
            {
                "page_size": [
                    _("Give a whole number of rows from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE}
                ]
            },
            code="invalid",
        )
    return int(raw)


def _after(model, change: int, pk: int):
    """`(change_number, id) > (change, pk)` as one row comparison, so the index is walked from
    that point on (an OR of two conditions would scan every row of an equal change number)."""
    table = model._meta.db_table
    # The table name is the model's own and the values are parameters: nothing from input.
    return RawSQL(  # noqa: S611
        f'("{table}"."change_number", "{table}"."id") > (%s, %s)',  # nosec B611
        (change, pk),
        output_field=BooleanField(),
    )


class SyncList:
    """One page of a sync of `view`'s list (a ScopedViewSet with the sync hooks)."""

    def __init__(self, view, request):
        self.view, self.request = view, request
        self.size = _page_size(request)
        params = request.query_params
        if "cursor" in params:
            state = _unsign(params["cursor"], kind="page", view=view)
        elif "sync_token" in params:
            token = _unsign(params["sync_token"], kind="token", view=view)
            state = {"f": token["f"], "s": token["c"], "w": watermark()}
        else:
            if params.get("sync") != "start":
                raise exceptions.ValidationError(
                    {"sync": [_('Use "sync=start" to begin, then follow "next".')]},
                    code="invalid",
                )
            filters = {k: params.getlist(k) for k in params if k not in SYNC_PARAMS}
            state = {"f": filters, "s": None, "w": watermark()}
        self.filters: dict = state["f"]
        self.since: int | None = state["s"]  # None: a full copy
        self.upto: int = state["w"]  # the token this sync ends with
        self.after: list | None = state.get("a")
        self.gone_after: int | None = state.get("g")

    # --- what the user sees ---------------------------------------------------------------

    def visible(self):
        """The list as a browsing request with the token's filters would show it."""
        view = self.view
        queryset = view.get_queryset()
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is None or not self.filters:
            return queryset
        data = QueryDict(mutable=True)
        for key, values in self.filters.items():
            data.setlist(key, values)
        filterset = filterset_class(data=data, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise exceptions.ValidationError(filterset.errors)
        return filterset.qs

    def scopes(self) -> tuple[set[int], set[int]]:
        """Institutions and groups whose view changed for this user since the token."""
        rows = ScopeChange.objects.filter(
            user_id=self.request.user.pk, change_number__gte=self.since
        ).values_list("institution_id", "group_id")
        institutions, groups = set(), set()
        for institution_id, group_id in rows:
            (groups.add(group_id) if group_id else institutions.add(institution_id))
        return institutions, groups

    # --- the page ---------------------------------------------------------------------------

    def respond(self) -> Response:
        if self.since is None:
            results, full = self._copy_page()
        else:
            results, full = self._changes_page()
        next_url, token = None, None
        if full:
            state = {"k": "page", "l": self.view.basename, "u": self.request.user.pk}
            state |= {"f": self.filters, "s": self.since, "w": self.upto}
            state |= {"a": self.after, "g": self.gone_after}
            next_url = self._url({"cursor": _sign(state)})
        else:
            token = _sign(
                {
                    "k": "token",
                    "l": self.view.basename,
                    "u": self.request.user.pk,
                    "f": self.filters,
                    "c": self.upto,
                }
            )
        body = {"next": next_url, "results": results}
        if token:
            body["sync_token"] = token
        return Response(body)

    def _url(self, params: dict) -> str:
        url = self.request.build_absolute_uri(self.request.path)
        for key, value in params.items():
            url = replace_query_param(url, key, value)
        if "page_size" in self.request.query_params:
            url = replace_query_param(url, "page_size", self.size)
        return url

    def _ordered(self, queryset):
        if self.after:
            queryset = queryset.filter(_after(queryset.model, *self.after))
        return queryset.order_by("change_number", "pk")

    def _copy_page(self) -> tuple[list, bool]:
        rows = list(self._ordered(self.visible())[: self.size])
        if rows:
            self.after = [rows[-1].change_number, rows[-1].pk]
        self.view.sync_shown(rows)
        return self.view.get_serializer(rows, many=True).data, len(rows) == self.size

    def _changes_page(self) -> tuple[list, bool]:
        view = self.view
        lost, groups = self.scopes()
        institutions = set(memberships_of(self.request.user)) | lost
        results: list = []
        if self.gone_after is None:
            changed = Q(change_number__gte=self.since)
            if lost:
                changed |= Q(**{f"{view.sync_institution_path}__in": lost})
            if groups and view.sync_group_path:
                changed |= Q(**{f"{view.sync_group_path}__in": groups})
            universe = view.sync_universe(institutions, groups)
            keys = list(
                self._ordered(universe.filter(changed)).values_list("pk", "change_number")[
                    : self.size
                ]
            )
            shown = {row.pk: row for row in self.visible().filter(pk__in=[k for k, _ in keys])}
            rows = [shown[pk] for pk, _ in keys if pk in shown]
            view.sync_shown(rows)
            full = iter(view.get_serializer(rows, many=True).data)
            results = [next(full) if pk in shown else _removed(pk) for pk, _ in keys]
            if keys:
                self.after = list(keys[-1][::-1])
            if len(keys) == self.size:
                return results, True
            self.gone_after = 0
        # Then the rows deleted since the token (tombstones, in the order they were written).
        gone = list(
            Tombstone.objects.filter(
                table_name=view.queryset.model._meta.db_table,
                change_number__gte=self.since,
                institution_id__in=institutions,
                pk__gt=self.gone_after,
            )
            .order_by("pk")
            .values_list("pk", "object_id")[: self.size - len(results)]
        )
        results += [_removed(object_id) for _, object_id in gone]
        if gone:
            self.gone_after = gone[-1][0]
        return results, len(results) == self.size


def _removed(pk: int) -> dict:
    return {"id": pk, "removed": True}


def leads_group(user, group_path: str):
    """Rows of the groups `user` facilitates (for a notes sync's universe)."""
    from sessions.models import GroupFacilitator

    return Exists(GroupFacilitator.objects.filter(group_id=OuterRef(group_path), user=user))
