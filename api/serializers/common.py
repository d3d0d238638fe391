"""Fields shared by every serializer: brief nested objects on read, scoped ids on write."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinics.querysets import institution_ids_for


class BriefSerializer(serializers.Serializer):
    """How one object is shown inside another: its id and a short label."""

    id = serializers.IntegerField()
    display = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """An error that is not about one field."""

    detail = serializers.CharField()


def user_display(user) -> str:
    return user.get_full_name() or user.get_username()


def colleagues_of(user):
    """The users who hold an active role in one of `user`'s institutions."""
    return (
        get_user_model()
        .objects.filter(
            memberships__institution__in=institution_ids_for(user), memberships__is_active=True
        )
        .distinct()
    )


class BriefRelatedField(serializers.RelatedField):
    """Read: `{"id": 7, "display": "…"}`. Write: the id, looked up among the rows the user may
    see, so another institution's id is answered exactly like a missing one."""

    default_error_messages = {
        "does_not_exist": _('Invalid id "{pk_value}" - object does not exist.'),
        "incorrect_type": _("Incorrect type. Expected an id (integer), received {data_type}."),
    }

    def __init__(self, *, model, display=str, scope=None, **kwargs):
        self.model = model
        self.display = display
        self.scope = scope
        if not kwargs.get("read_only"):
            kwargs["queryset"] = model.objects.none()  # the real rows come from get_queryset()
        super().__init__(**kwargs)

    def get_queryset(self):
        user = self.context["request"].user
        if self.scope is not None:
            return self.scope(user)
        return self.model.objects.for_user(user)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, str) and not data.isdigit():
            self.fail("incorrect_type", data_type="str")
        pk = int(data)
        if pk < 1 or pk > 2**63 - 1:
            self.fail("does_not_exist", pk_value=data)
        try:
            return self.get_queryset().get(pk=pk)
        except ObjectDoesNotExist:
            self.fail("does_not_exist", pk_value=data)

    def to_representation(self, value):
        return {"id": value.pk, "display": self.display(value)}


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "description": "Local wall-clock time, HH:MM or HH:MM:SS.",
        "example": "18:05",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the institution's time zone (OpenAPI's `format: time` would demand
    an offset, which a time of day in a session does not have)."""
