"""The organisation and its people: institutions, sites, rooms, participants, the user (me)."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from attendance.models import Consent
from clinics.models import Institution, Participant, Room, Site, StaffMembership
from clinics.roles import CLINICAL_ROLES
from sessions.models import SupportGroup

from .common import BriefRelatedField, ModelSerializer


def clinical_institutions(user):
    return Institution.objects.for_user(user, roles=CLINICAL_ROLES)


class InstitutionSerializer(ModelSerializer):
    class Meta:
        model = Institution
        fields = ["id", "name", "kind", "time_zone", "language", "created_at", "updated_at"]
        read_only_fields = fields


class SiteSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)

    class Meta:
        model = Site
        fields = ["id", "institution", "name", "address", "created_at", "updated_at"]
        read_only_fields = fields


class RoomSerializer(ModelSerializer):
    site = BriefRelatedField(model=Site, read_only=True)
    institution = BriefRelatedField(model=Institution, read_only=True, source="site.institution")

    class Meta:
        model = Room
        fields = [
            "id",
            "institution",
            "site",
            "name",
            "capacity",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InitialConsentSerializer(serializers.Serializer):
    """A consent recorded together with the registration (e.g. a walk-in at the door)."""

    purpose = serializers.ChoiceField(choices=Consent.Purpose.choices)
    method = serializers.ChoiceField(choices=Consent.Method.choices)
    text_version = serializers.CharField(max_length=32)
    group = BriefRelatedField(
        model=SupportGroup, required=False, allow_null=True, display=lambda g: g.name
    )
    recipient = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ParticipantSerializer(ModelSerializer):
    """A participant as the clinical roles see them; group-facing screens show `display` (the
    alias). Identity fields exist only with the health-data consent (the service enforces it)."""

    institution = BriefRelatedField(model=Institution, scope=clinical_institutions)
    display = serializers.CharField(source="alias", read_only=True)
    consents = InitialConsentSerializer(
        many=True,
        required=False,
        write_only=True,
        help_text="On registration only: consents given at the same time, recorded first.",
    )
    birth_year = serializers.IntegerField(
        required=False, allow_null=True, min_value=1900, max_value=2100
    )

    class Meta:
        model = Participant
        fields = [
            "id",
            "institution",
            "code",
            "display",
            "alias",
            "legal_name",
            "email",
            "phone",
            "reminder_channel",
            "birth_year",
            "language",
            "is_erased",
            "consents",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "code", "display", "is_erased", "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is not None:
            if "institution" in attrs and attrs["institution"] != self.instance.institution:
                raise serializers.ValidationError(
                    {"institution": _("A participant cannot move to another institution.")}
                )
            if "consents" in attrs:
                raise serializers.ValidationError(
                    {"consents": _("Record further consents through consents/.")}
                )
        return attrs


class MembershipSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    time_zone = serializers.CharField(source="institution.time_zone", read_only=True)

    class Meta:
        model = StaffMembership
        fields = ["institution", "time_zone", "role", "profession"]
        read_only_fields = fields


class MeSerializer(ModelSerializer):
    display = serializers.SerializerMethodField()
    memberships = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display", "first_name", "last_name", "email", "memberships"]
        read_only_fields = fields

    def get_display(self, user) -> str:
        return user.get_full_name() or user.get_username()

    @staticmethod
    def _memberships(user):
        return (
            StaffMembership.objects.filter(user=user, is_active=True)
            .select_related("institution")
            .order_by("institution__name")
        )

    @extend_schema_field(MembershipSerializer(many=True))
    def get_memberships(self, user) -> list[dict]:
        return MembershipSerializer(self._memberships(user), many=True).data
