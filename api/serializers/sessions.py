"""Groups, their sessions, notes, and the small inputs of their domain verbs."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework import serializers

from clinics.models import Institution, Participant, Room
from clinics.roles import PLANNING_ROLES
from sessions.models import GroupFacilitator, NoteAddendum, Session, SessionNote, SupportGroup
from sessions.services import GROUP_EDITABLE

from .common import (
    BriefRelatedField,
    LocalTimeField,
    ModelSerializer,
    PrefetchedListSerializer,
    colleagues_of,
    user_display,
)

User = get_user_model()


def planning_institutions(user):
    return Institution.objects.for_user(user, roles=PLANNING_ROLES)


def session_display(session) -> str:
    return f"{session.group.name} #{session.sequence}"


class GroupFacilitatorSerializer(ModelSerializer):
    user = BriefRelatedField(model=User, scope=colleagues_of, display=user_display)

    class Meta:
        model = GroupFacilitator
        fields = ["user", "role"]
        list_serializer_class = PrefetchedListSerializer


class GroupSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, scope=planning_institutions)
    default_room = BriefRelatedField(model=Room, required=False, allow_null=True)
    entry_points = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000),
        required=False,
        max_length=100,
        help_text="Semi-open groups: the session numbers at which newcomers may join.",
    )
    # A lifecycle move is a PATCH of `status`; a pause also names `resume_on` and a `reason`
    # (sessions.services.lifecycle).
    resume_on = serializers.DateField(
        required=False, allow_null=True, help_text="A pause: the day the group resumes."
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=2000,
        help_text="The reason for a change of status (pause, end).",
    )
    facilitators = GroupFacilitatorSerializer(
        many=True,
        required=False,
        source="facilitator_roles",
        help_text="Set on creation; later use groups/{id}/facilitators/.",
    )

    class Meta:
        model = SupportGroup
        # What the service lets a caller change (one list, sessions.services.GROUP_EDITABLE),
        # and what the API adds around it.
        fields = [
            "id",
            "institution",
            *GROUP_EDITABLE,
            "resume_on",
            "status_reason",
            "reason",
            "facilitators",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status_reason", "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is not None:
            if "institution" in attrs and attrs["institution"] != self.instance.institution:
                raise serializers.ValidationError(
                    {"institution": _("A group cannot move to another institution.")}
                )
            if "facilitator_roles" in attrs:
                raise serializers.ValidationError(
                    {"facilitators": _("Change facilitators through groups/{id}/facilitators/.")}
                )
        return attrs


class FacilitatorRemoveSerializer(serializers.Serializer):
    user = BriefRelatedField(model=User, scope=colleagues_of, display=user_display)


class ScheduleSerializer(serializers.Serializer):
    """A recurrence rule: e.g. every Tuesday 18:00 for 90 minutes from September until June."""

    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text="0 = Monday … 6 = Sunday",
    )
    interval_weeks = serializers.IntegerField(min_value=1, max_value=8, default=1)
    start_time = LocalTimeField()
    duration_minutes = serializers.IntegerField(min_value=15, max_value=480)
    starts_on = serializers.DateField()
    until = serializers.DateField(required=False, allow_null=True)
    count = serializers.IntegerField(min_value=1, max_value=260, required=False, allow_null=True)
    skip_dates = serializers.ListField(
        child=serializers.DateField(), required=False, max_length=366
    )
    room = BriefRelatedField(model=Room, required=False, allow_null=True)
    online_link = serializers.URLField(required=False, allow_blank=True, max_length=200)


class SessionSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    group = BriefRelatedField(model=SupportGroup, display=lambda g: g.name)
    room = BriefRelatedField(model=Room, required=False, allow_null=True)
    substitute_facilitator = BriefRelatedField(
        model=User, scope=colleagues_of, display=user_display, required=False, allow_null=True
    )
    facilitators = GroupFacilitatorSerializer(
        many=True, read_only=True, source="group.facilitator_roles"
    )
    format = serializers.ChoiceField(choices=Session.Format.choices, read_only=True)
    cancelled_by = serializers.ChoiceField(
        choices=Session.CancelledBy.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty unless cancelled.",
    )

    class Meta:
        model = Session
        fields = [
            "id",
            "institution",
            "group",
            "sequence",
            "starts_at",
            "ends_at",
            "room",
            "online_link",
            "format",
            "status",
            "theme",
            "facilitators",
            "substitute_facilitator",
            "cancelled_by",
            "cancellation_reason",
            "cancelled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "sequence",
            "status",
            "cancelled_by",
            "cancellation_reason",
            "cancelled_at",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        if self.instance is not None and "group" in attrs and attrs["group"] != self.instance.group:
            raise serializers.ValidationError(
                {"group": _("A session cannot move to another group.")}
            )
        starts, ends = attrs.get("starts_at"), attrs.get("ends_at")
        if self.instance is None and (starts is None or ends is None):
            raise serializers.ValidationError(
                {
                    name: _("This field is required.")
                    for name in ("starts_at", "ends_at")
                    if attrs.get(name) is None
                }
            )
        if starts and ends and ends <= starts:
            raise serializers.ValidationError({"ends_at": _("A session must end after it starts.")})
        return attrs


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    cancelled_by = serializers.ChoiceField(
        choices=Session.CancelledBy.choices, default=Session.CancelledBy.CENTRE
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AddendumSerializer(ModelSerializer):
    author = BriefRelatedField(model=User, read_only=True, display=user_display)

    class Meta:
        model = NoteAddendum
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]
        extra_kwargs = {"text": {"max_length": 20000}}


class SessionNoteSerializer(ModelSerializer):
    session = BriefRelatedField(model=Session, display=session_display)
    participant = BriefRelatedField(
        model=Participant, required=False, allow_null=True, display=lambda p: p.alias
    )
    author = BriefRelatedField(model=User, read_only=True, display=user_display)
    signed_by = BriefRelatedField(model=User, read_only=True, allow_null=True, display=user_display)
    cosigned_by = BriefRelatedField(
        model=User, read_only=True, allow_null=True, display=user_display
    )
    addenda = AddendumSerializer(many=True, read_only=True)

    class Meta:
        model = SessionNote
        fields = [
            "id",
            "session",
            "kind",
            "participant",
            "author",
            "theme",
            "text",
            "signed_at",
            "signed_by",
            "needs_cosignature",
            "cosigned_at",
            "cosigned_by",
            "addenda",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "signed_at",
            "needs_cosignature",
            "cosigned_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"text": {"max_length": 20000}}
        # DRF would turn the conditional unique constraints (one group note per session, ...)
        # into validators that require `participant` for every kind; note_write enforces them.
        validators = []
