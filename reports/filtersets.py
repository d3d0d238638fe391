"""Filters for report runs (the API's list of a user's reports)."""

from clinics.filtersets import ChangedSinceFilterSet, IdFilter

from .models import ReportRun


class ReportRunFilterSet(ChangedSinceFilterSet):
    institution = IdFilter(field_name="institution_id")

    class Meta:
        model = ReportRun
        fields = ["institution", "type", "status", "language"]
