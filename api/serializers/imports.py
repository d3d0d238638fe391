"""Imports (an uploaded spreadsheet, its preview and its outcome) and the export requests."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinics.models import Institution
from imports.export import FORMATS
from imports.models import ImportJob
from imports.services import import_progress
from sessions.models import SupportGroup

from .common import BriefRelatedField, ModelSerializer


class ImportUploadSerializer(serializers.Serializer):
    """Multipart: `kind` (`participants` or `attendance`), `group` for attendance, `file`;
    `institution` only for someone who administers several."""

    kind = serializers.ChoiceField(choices=ImportJob.Kind.choices)
    group = BriefRelatedField(model=SupportGroup, required=False, allow_null=True)
    institution = BriefRelatedField(model=Institution, required=False, allow_null=True)
    file = serializers.FileField(allow_empty_file=True)


class ProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The spreadsheet's row number (the header is 1).")
    column = serializers.CharField(help_text="The column as the file names it; empty: the row.")
    code = serializers.CharField()
    message = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    checked = serializers.IntegerField()
    written = serializers.IntegerField()
    total = serializers.IntegerField()


class ImportJobSerializer(ModelSerializer):
    institution = BriefRelatedField(model=Institution, read_only=True)
    group = BriefRelatedField(model=SupportGroup, display=lambda g: g.name, read_only=True)
    problems = ProblemSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "institution",
            "group",
            "status",
            "filename",
            "format",
            "encoding",
            "sha256",
            "size",
            "rows",
            "problems",
            "problem_count",
            "created",
            "updated",
            "unchanged",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job) -> dict:
        return import_progress(job)


class ParticipantExportSerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=sorted(FORMATS), default="csv")
    institution = BriefRelatedField(model=Institution, required=False, allow_null=True)


class RegisterExportSerializer(serializers.Serializer):
    file_format = serializers.ChoiceField(choices=sorted(FORMATS), default="csv")
    group = BriefRelatedField(model=SupportGroup)
    start = serializers.DateField()
    end = serializers.DateField()
