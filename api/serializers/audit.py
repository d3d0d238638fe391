from audit.models import AuditEvent
from clinics.models import Institution

from .common import BriefRelatedField, ModelSerializer


class AuditEventSerializer(ModelSerializer):
    """One audit event, read-only: the log offers no way to change or delete it."""

    institution = BriefRelatedField(model=Institution, read_only=True, display=lambda i: i.name)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "institution",
            "actor_username",
            "action",
            "object_type",
            "object_id",
            "ip_address",
            "client",
            "details",
        ]
        read_only_fields = fields
