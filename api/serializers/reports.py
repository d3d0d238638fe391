"""Report requests and report runs."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinics.models import LANGUAGE_CHOICES
from reports.models import ReportRun

from .common import BriefSerializer, ModelSerializer, user_display


class ReportRequestSerializer(serializers.Serializer):
    """`{"type": "group_register", "language": "pl", "parameters": {"group": 3, "start":
    "2026-09-01", "end": "2026-12-31"}}`; the language defaults to the institution's."""

    type = serializers.ChoiceField(choices=ReportRun.Type.choices)
    language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, required=False, allow_null=True)
    parameters = serializers.DictField()


class ReportRunSerializer(ModelSerializer):
    institution = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportRun
        fields = [
            "id",
            "type",
            "language",
            "parameters",
            "status",
            "error",
            "institution",
            "requested_by",
            "sha256",
            "verification_code",
            "download_url",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(BriefSerializer)
    def get_institution(self, run) -> dict:
        return {"id": run.institution_id, "display": run.institution.name}

    @extend_schema_field(BriefSerializer(allow_null=True))
    def get_requested_by(self, run) -> dict | None:
        if run.requested_by is None:
            return None
        return {"id": run.requested_by_id, "display": user_display(run.requested_by)}

    def get_download_url(self, run) -> str | None:
        if run.status != ReportRun.Status.READY:
            return None
        path = reverse("reportrun-download", args=[run.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
