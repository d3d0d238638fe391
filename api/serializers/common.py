"""Fields shared by every serializer: brief nested objects on read, scoped ids on write."""

import datetime
import operator

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

from clinics.querysets import institution_ids_for


class BriefSerializer(serializers.Serializer):
    """How one object is shown inside another: its id and a short label."""

    id = serializers.IntegerField()
    display = serializers.CharField()


def prefetched_list(related_name: str) -> str:
    """The `to_attr` under which a view prefetches a related list for PrefetchedListSerializer:
    `Prefetch("group__facilitator_roles", queryset=…, to_attr=prefetched_list("facilitator_roles"))`."""
    return f"{related_name}_list"


class PrefetchedListSerializer(serializers.ListSerializer):
    """A nested list (`many=True`) of a related manager, read from a plain prefetched list
    when the view made one.

    A prefetch into the related manager's cache builds a QuerySet for every parent row (a
    clone of the query and its WHERE tree), and DRF's `.all()` another, only to hand back the
    prefetched rows: on a page of 100 sessions, about a sixth of the request
    (docs/benchmarks.md). With `Prefetch(…, to_attr=prefetched_list(name))` the rows come as a
    list and this reads it; without one it does what DRF does.
    """

    def to_representation(self, data):
        if isinstance(data, models.Manager):
            field = getattr(data, "field", None)
            name = field.remote_field.accessor_name if field is not None else None
            listed = getattr(getattr(data, "instance", None), prefetched_list(name or ""), None)
            if listed is not None:
                data = listed
        return super().to_representation(data)


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


def _utc_iso(value: datetime.datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with a cheaper way to write a row out.

    DRF asks every field of every row for its attribute and its representation through several
    layers (SkipField checks, callable checks, and for each datetime a look-up of the current
    time zone). On a page of 100 rows that cost more than the query (docs/benchmarks.md). Here
    the fields are sorted out once per serializer: the model's own plain columns are read with
    `attrgetter` and written with the conversion DRF would apply (`int`, `str`, `isoformat`,
    the time zone looked up once); every other field goes the regular DRF way. The output is
    the same, byte for byte: tests/api/test_representation.py compares the two for every
    resource.
    """

    def to_representation(self, instance):
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self.__dict__["_representation_plan"] = self._plan_representation()
        ret = {}
        for name, get, write in plan:
            value = get(instance)
            if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
                ret[name] = None
            else:
                ret[name] = write(value)
        return ret

    def _plan_representation(self):
        plan = []
        for field in self._readable_fields:
            get, write = self._fast_path(field) or (field.get_attribute, field.to_representation)
            plan.append((field.field_name, get, write))
        return plan

    def _fast_path(self, field):
        """(get, write) for a plain column of the model that DRF would only convert, or None."""
        if len(field.source_attrs) != 1:
            return None
        try:
            column = self.Meta.model._meta.get_field(field.source)
        except FieldDoesNotExist:
            return None
        if not column.concrete:
            return None
        get = operator.attrgetter(field.source)
        kind = type(field)
        if column.is_relation:
            # A foreign key shown as {"id", "display"}: the related row, as DRF would read it.
            return (get, field.to_representation) if kind is BriefRelatedField else None
        if kind is serializers.IntegerField:
            return get, int
        if kind in (serializers.CharField, serializers.EmailField, serializers.URLField):
            return get, str
        if kind is serializers.BooleanField:
            return get, field.to_representation
        if kind is serializers.DateField:
            if getattr(field, "format", api_settings.DATE_FORMAT) != ISO_8601:
                return None
            return get, lambda value: value.isoformat() if value else None
        if kind is serializers.DateTimeField:
            if getattr(field, "format", api_settings.DATETIME_FORMAT) != ISO_8601:
                return None
            zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
            if zone is None:
                return None

            def write(value):
                if not value:
                    return None
                if value.tzinfo is None:  # naive: DRF's own path makes it aware (or fails)
                    return field.to_representation(value)
                return _utc_iso(value.astimezone(zone))

            return get, write
        return None
