"""The one base viewset: scoping, role visibility, conditional requests, throttling."""

from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.response import Response

from clinics.locking import lock_for_change
from clinics.querysets import forget_memberships
from clinics.roles import ALL_ROLES

from ..conditional import UNSAFE_METHODS, ConditionalRequestsMixin, check_if_match, etag_for
from ..sync import SyncList, is_sync_request
from ..throttling import UserWriteThrottle


class ScopedViewSet(ConditionalRequestsMixin, viewsets.GenericViewSet):
    """Rows of the user's institutions only (`Model.objects.for_user`), further limited to the
    institutions where the user holds one of `visible_to`; everything else is a 404.

    `serializer_class` is the resource's representation: the ETag of an object is a hash of it,
    and an unsafe request with a stale If-Match gets 412 before anything is written.
    """

    visible_to = ALL_ROLES
    throttle_classes = [UserWriteThrottle]
    # Ids are numbers: `sessions/abc/` is no address at all (a JSON 404, api/middleware.py).
    lookup_value_regex = r"[0-9]+"
    # Actions whose service checks If-Match under its own row lock (`precondition=`); the
    # others lock the object here, in the request's transaction, and check it then.
    service_checks_if_match: tuple[str, ...] = ("update", "partial_update")

    def dispatch(self, request, *args, **kwargs):
        if request.method in UNSAFE_METHODS and request.headers.get("If-Match"):
            # The row lock taken for the If-Match lasts until the write commits.
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        # Memberships are read once per user object (clinics.querysets.memberships_of); a
        # user object given to several requests (force_authenticate) must not carry them over.
        forget_memberships(request.user)
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        roles = None if set(self.visible_to) == set(ALL_ROLES) else self.visible_to
        return self.scope(self.queryset.all(), roles)

    def scope(self, queryset, roles):
        return queryset.for_user(self.request.user, roles=roles)

    def get_object(self):
        obj = super().get_object()
        if (
            self.request.method in UNSAFE_METHODS
            and self.request.headers.get("If-Match")
            and self.action not in self.service_checks_if_match
        ):
            lock_for_change(obj, self.if_match())
        return obj

    def if_match(self, current=None):
        """The precondition a service runs on the row it locked: the request's If-Match against
        the representation as it stands under that lock (`current(locked)`; by default this
        resource read again). None when the request names no version."""
        if not self.request.headers.get("If-Match"):
            return None

        def check(locked):
            if current is not None:
                data = current(locked)
            else:
                data = self.represent(self.get_queryset().get(pk=locked.pk))
            check_if_match(self.request, etag_for(data))

        return check

    def represent(self, obj):
        return self.serializer_class(obj, context=self.get_serializer_context()).data

    def respond_with(self, obj, status=200):
        return Response(self.represent(obj), status=status)

    def _input(self, serializer_class, request) -> dict:
        """The validated input of a domain verb (its small serializer); bad input is a 400."""
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class SyncedListMixin(mixins.ListModelMixin):
    """A list the mobile app keeps offline: browsing pages, or `?sync=start` / `?sync_token=`
    (api/sync.py)."""

    # Sync (api/sync.py): where a row's institution and group are, for the rows a changed view
    # sends again (a membership or a facilitator role came or went).
    sync_group_path: str | None = None

    @property
    def sync_institution_path(self) -> str:
        return self.queryset.model._default_manager.get_queryset().institution_path

    def list(self, request, *args, **kwargs):
        if is_sync_request(request):
            return SyncList(self, request).respond()
        return super().list(request, *args, **kwargs)

    def sync_universe(self, institutions: set[int], groups: set[int]):
        """Every row a changed row might have been visible from: those of the user's
        institutions, and of those they lost since the token. A row of it that the user does not
        see (now) is answered as removed, never shown."""
        model = self.queryset.model
        return model._base_manager.filter(**{f"{self.sync_institution_path}__in": institutions})

    def sync_shown(self, rows) -> None:
        """Called with the rows a sync page shows in full (the participants' list audits them)."""
