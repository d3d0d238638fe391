"""Membership, consent and attendance, and the roster of one session."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from rest_framework import serializers

from attendance.models import AttendanceRecord, Consent, ConsentText, Enrollment
from clinics.models import Institution, Participant
from sessions.models import Session, SupportGroup

from .common import (
    BriefRelatedField,
    BriefSerializer,
    LocalTimeField,
    ModelSerializer,
    user_display,
)
from .sessions import session_display

User = get_user_model()


def participant_display(participant) -> str:
    return participant.alias


class EnrollmentSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    participant = BriefRelatedField(model=Participant, display=participant_display)
    group = BriefRelatedField(model=SupportGroup, display=lambda g: g.name)
    walk_in = serializers.BooleanField(
        write_only=True,
        default=False,
        help_text="true: a walk-in to an open group, a member at once (from `session`'s day).",
    )
    session = BriefRelatedField(
        model=Session,
        write_only=True,
        required=False,
        allow_null=True,
        help_text="For a walk-in: the session they came to.",
    )
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=2000, default=""
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "institution",
            "participant",
            "group",
            "status",
            "referral_source",
            "referred_on",
            "waitlisted_at",
            "offered_at",
            "offer_expires_at",
            "joined_on",
            "left_on",
            "end_reason",
            "is_walk_in",
            "admitted_with_override",
            "walk_in",
            "session",
            "reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "referred_on",
            "waitlisted_at",
            "offered_at",
            "offer_expires_at",
            "joined_on",
            "left_on",
            "end_reason",
            "is_walk_in",
            "admitted_with_override",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        session = attrs.get("session")
        if session is not None:
            if not attrs.get("walk_in"):
                raise serializers.ValidationError(
                    {"session": _("Only a walk-in names the session they came to.")}
                )
            if attrs.get("group") and session.group_id != attrs["group"].pk:
                raise serializers.ValidationError(
                    {"session": _("This session is not one of the group's.")}
                )
        return attrs


class AdmitSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    override = serializers.BooleanField(
        default=False, help_text="Admins only: admit despite the group's admission rules."
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="An override ahead of people on the waiting list needs a reason.",
    )


class WithdrawEnrollmentSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")


class CompleteEnrollmentSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    on = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")


class ConsentSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    participant = BriefRelatedField(model=Participant, display=participant_display)
    group = BriefRelatedField(
        model=SupportGroup, required=False, allow_null=True, display=lambda g: g.name
    )
    recorded_by = BriefRelatedField(model=User, read_only=True, display=user_display)
    withdrawn_by = BriefRelatedField(
        model=User, read_only=True, allow_null=True, display=user_display
    )
    # The exact text agreed to; `text_version` (its version label) keeps working on write.
    text = BriefRelatedField(
        model=ConsentText,
        read_only=True,
        allow_null=True,
        display=lambda t: f"{t.version} ({t.language})",
    )

    class Meta:
        model = Consent
        fields = [
            "id",
            "institution",
            "participant",
            "purpose",
            "status",
            "group",
            "recipient",
            "method",
            "text_version",
            "text",
            "renewal_needed",
            "discloses_group",
            "granted_at",
            "expires_at",
            "recorded_by",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "renewal_needed",
            "withdrawn_at",
            "withdrawal_reason",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"granted_at": {"required": False}}


class AttendanceRecordSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    session = BriefRelatedField(model=Session, read_only=True, display=session_display)
    participant = BriefRelatedField(model=Participant, read_only=True, display=participant_display)
    recorded_by = BriefRelatedField(model=User, read_only=True, display=user_display)
    arrived_at = LocalTimeField(required=False, allow_null=True)
    left_at = LocalTimeField(required=False, allow_null=True)

    class Meta:
        model = AttendanceRecord
        fields = [
            "id",
            "institution",
            "session",
            "participant",
            "status",
            "arrived_at",
            "left_at",
            "recorded_by",
            "recorded_at",
            "source",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "recorded_at",
            "source",
            "version",
            "created_at",
            "updated_at",
        ]


class MarkSerializer(serializers.Serializer):
    """One person's mark in a roster PUT."""

    participant = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=AttendanceRecord.Status.choices)
    arrived_at = LocalTimeField(required=False, allow_null=True, default=None)
    left_at = LocalTimeField(required=False, allow_null=True, default=None)


class RosterPutSerializer(serializers.Serializer):
    marks = MarkSerializer(many=True, max_length=500)


class RosterEntrySerializer(serializers.Serializer):
    participant = BriefSerializer(help_text="The participant, shown by alias.")
    enrollment = serializers.IntegerField(allow_null=True)
    is_walk_in = serializers.BooleanField()
    on_roster = serializers.BooleanField(
        help_text="false: marked earlier but no longer a member on the session's day."
    )
    status = serializers.ChoiceField(choices=AttendanceRecord.Status.choices, allow_null=True)
    arrived_at = LocalTimeField(allow_null=True)
    left_at = LocalTimeField(allow_null=True)
    version = serializers.IntegerField(allow_null=True)
    recorded_at = serializers.DateTimeField(allow_null=True)


class RosterSerializer(serializers.Serializer):
    session = BriefSerializer()
    session_status = serializers.ChoiceField(choices=Session.Status.choices)
    marks = RosterEntrySerializer(many=True)


class ConsentTextSerializer(ModelSerializer):
    """A version of the text people agree to, as staff show it when recording a consent."""

    class Meta:
        model = ConsentText
        fields = [
            "id",
            "purpose",
            "language",
            "version",
            "body",
            "valid_from",
            "requires_renewal",
            "updated_at",
        ]
        read_only_fields = fields
