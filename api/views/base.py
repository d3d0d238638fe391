"""The one base viewset: scoping, role visibility, conditional requests, throttling."""

from rest_framework import viewsets
from rest_framework.response import Response

from clinics.querysets import forget_memberships
from clinics.roles import ALL_ROLES

from ..conditional import UNSAFE_METHODS, ConditionalRequestsMixin, check_if_match, etag_for
from ..throttling import UserWriteThrottle


class ScopedViewSet(ConditionalRequestsMixin, viewsets.GenericViewSet):
    """Rows of the user's institutions only (`Model.objects.for_user`), further limited to the
    institutions where the user holds one of `visible_to`; everything else is a 404.

    `serializer_class` is the resource's representation: the ETag of an object is a hash of it,
    and an unsafe request with a stale If-Match gets 412 before anything is written.
    """

    visible_to = ALL_ROLES
    throttle_classes = [UserWriteThrottle]
    # Actions whose representation is not the object's own (they check If-Match themselves).
    own_etag_actions: tuple[str, ...] = ()

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
            and self.action not in self.own_etag_actions
        ):
            check_if_match(self.request, etag_for(self.represent(obj)))
        return obj

    def represent(self, obj):
        return self.serializer_class(obj, context=self.get_serializer_context()).data

    def respond_with(self, obj, status=200):
        return Response(self.represent(obj), status=status)

    def _input(self, serializer_class, request) -> dict:
        """The validated input of a domain verb (its small serializer); bad input is a 400."""
        serializer = serializer_class(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
