"""Consent texts (read only): the versions of the texts people agree to, per purpose and
language, so the app shows the exact text when a consent is recorded."""

from rest_framework import mixins

from attendance.models import ConsentText
from clinics.roles import CLINICAL_ROLES

from ..serializers.attendance import ConsentTextSerializer
from .base import ScopedViewSet


class ConsentTextViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The institution's consent texts; filter with `?purpose=…&language=…`."""

    queryset = ConsentText.objects.all()
    serializer_class = ConsentTextSerializer
    visible_to = CLINICAL_ROLES
    ordering = ["purpose", "language", "-valid_from", "-id"]
    ordering_fields = ["valid_from", "updated_at", "id"]
    filterset_fields = ["purpose", "language", "version"]

    def scope(self, queryset, roles):
        from clinics.querysets import memberships_of

        ids = [i for i, role in memberships_of(self.request.user).items() if role in roles]
        if self.request.user.is_superuser:
            return queryset
        return queryset.filter(institution_id__in=ids)
