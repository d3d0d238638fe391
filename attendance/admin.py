"""Admin for enrollments, consents, attendance and follow-ups.

Clinical rows are never deleted or edited in place: enrollments move through their state
machine, consents are withdrawn (a new grant is a new row), attendance is corrected with its
history kept — each by the service that owns the rule. Scoping is `clinics.admin.TenantAdmin`'s.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from clinics.admin import ReadOnlyInline, TenantAdmin

from . import services
from .models import (
    AttendanceNotTaken,
    AttendanceRecord,
    AttendanceRevision,
    Consent,
    ConsentText,
    Enrollment,
    FollowUpTask,
)


@admin.register(Enrollment)
class EnrollmentAdmin(TenantAdmin):
    """A referral is added here; waitlisting, admission, completion and withdrawal are actions."""

    list_display = (
        "participant",
        "group",
        "status",
        "referral_source",
        "waitlisted_at",
        "joined_on",
        "left_on",
        "is_walk_in",
    )
    list_filter = ("institution", "status", "group", "referral_source", "is_walk_in")
    search_fields = ("participant__code", "participant__alias", "group__name")
    list_select_related = ("participant", "group")
    autocomplete_fields = ("participant", "group")
    actions = ["waitlist", "admit", "admit_with_override", "complete", "withdraw"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("participant", "group", "referral_source")
        return (
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
            "created_by",
        )

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else ()

    def has_change_permission(self, request, obj=None):
        # Changes are the state machine's actions, listed on the changelist.
        return obj is None and super().has_change_permission(request, obj)

    def service_save(self, request, obj, data, change):
        return services.enrollment_refer(
            participant=data["participant"],
            group=data["group"],
            referral_source=data["referral_source"],
            by=request.user,
        )

    @admin.action(description=_("Put on the waiting list"))
    def waitlist(self, request, queryset):
        self.run_service(
            request,
            queryset.order_by("id"),
            lambda e: services.enrollment_waitlist(enrollment=e, by=request.user),
            _("%(count)d put on the waiting list."),
        )

    @admin.action(description=_("Admit as members from today"))
    def admit(self, request, queryset):
        # In waiting-list order, so admitting several at once respects who came first.
        self.run_service(
            request,
            queryset.order_by("waitlisted_at", "id"),
            lambda e: services.enrollment_admit(enrollment=e, by=request.user),
            _("%(count)d admitted."),
        )

    @admin.action(description=_("Admit with an admin's override of the admission rules"))
    def admit_with_override(self, request, queryset):
        self.run_service(
            request,
            queryset.order_by("waitlisted_at", "id"),
            lambda e: services.enrollment_admit(enrollment=e, by=request.user, override=True),
            _("%(count)d admitted with an override."),
        )

    @admin.action(description=_("Record completion of the group"))
    def complete(self, request, queryset):
        self.run_service(
            request,
            queryset,
            lambda e: services.enrollment_complete(enrollment=e, by=request.user),
            _("%(count)d completed."),
        )

    @admin.action(description=_("Withdraw (with a reason)"))
    def withdraw(self, request, queryset):
        return self.ask_reason(
            request,
            queryset,
            action="withdraw",
            title=_("Withdraw"),
            question=_("Why do these memberships end? Rosters from today will not list them."),
            call=lambda e, reason: services.enrollment_withdraw(
                enrollment=e, by=request.user, reason=reason
            ),
            done_message=_("%(count)d withdrawn."),
        )


@admin.register(Consent)
class ConsentAdmin(TenantAdmin):
    """Consents are recorded here and withdrawn by the action; a grant is never edited."""

    list_display = (
        "participant",
        "purpose",
        "status",
        "method",
        "text_version",
        "granted_at",
        "withdrawn_at",
    )
    list_filter = ("institution", "purpose", "status", "method")
    search_fields = ("participant__code", "participant__alias", "recipient", "text_version")
    list_select_related = ("participant",)
    autocomplete_fields = ("participant", "group")
    date_hierarchy = "granted_at"
    actions = ["withdraw"]
    ADD_FIELDS = (
        "participant",
        "purpose",
        "method",
        "text_version",
        "group",
        "recipient",
        "discloses_group",
        "granted_at",
        "expires_at",
        "scan",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.ADD_FIELDS
        return (
            *self.ADD_FIELDS,
            "status",
            "text",
            "renewal_needed",
            "recorded_by",
            "withdrawn_at",
            "withdrawn_by",
            "withdrawal_reason",
        )

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def service_save(self, request, obj, data, change):
        return services.consent_grant(
            participant=data["participant"],
            purpose=data["purpose"],
            method=data["method"],
            text_version=data["text_version"],
            group=data.get("group"),
            recipient=data.get("recipient") or "",
            discloses_group=bool(data.get("discloses_group")),
            granted_at=data.get("granted_at"),
            expires_at=data.get("expires_at"),
            scan=data.get("scan"),
            by=request.user,
        )

    @admin.action(description=_("Withdraw the selected consents (with a reason)"))
    def withdraw(self, request, queryset):
        return self.ask_reason(
            request,
            queryset,
            action="withdraw",
            title=_("Withdraw consent"),
            question=_("Withdrawal takes effect at once. What did the participant say?"),
            call=lambda c, reason: services.consent_withdraw(
                consent=c, by=request.user, reason=reason
            ),
            done_message=_("%(count)d consent(s) withdrawn."),
        )


class RevisionInline(ReadOnlyInline):
    model = AttendanceRevision
    fields = ("version", "status", "arrived_at", "left_at", "recorded_by", "recorded_at", "source")
    readonly_fields = fields
    show_change_link = False


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(TenantAdmin):
    """One mark per session and participant; a change is a correction that keeps the earlier
    version (shown below the form)."""

    list_display = ("session", "participant", "status", "arrived_at", "left_at", "source")
    list_filter = ("institution", "status", "source", "session__group")
    search_fields = ("participant__code", "participant__alias", "session__group__name")
    list_select_related = ("participant", "session__group")
    autocomplete_fields = ("session", "participant")
    inlines = [RevisionInline]

    def get_fields(self, request, obj=None):
        fields = ("session", "participant", "status", "arrived_at", "left_at")
        if obj is None:
            return fields
        return (*fields, "recorded_by", "recorded_at", "source", "version")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("session", "participant", "recorded_by", "recorded_at", "source", "version")

    def service_save(self, request, obj, data, change):
        session = obj.session if obj else data["session"]
        participant_id = obj.participant_id if obj else data["participant"].pk
        mark = services.Mark(
            participant_id=participant_id,
            status=data["status"],
            arrived_at=data.get("arrived_at"),
            left_at=data.get("left_at"),
        )
        records = services.attendance_record(
            session=session, marks=[mark], by=request.user, source=AttendanceRecord.Source.ADMIN
        )
        return records[0]


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(TenantAdmin):
    """Follow-ups are raised by attendance; here an open one is closed with its outcome."""

    list_display = ("__str__", "trigger_session", "assigned_to", "status", "created_at")
    list_filter = ("institution", "status", "assigned_to")
    search_fields = ("enrollment__participant__code", "enrollment__group__name")
    list_select_related = ("enrollment__participant", "enrollment__group", "trigger_session")
    fields = ("enrollment", "trigger_session", "assigned_to", "status", "outcome", "resolved_at")

    def get_readonly_fields(self, request, obj=None):
        readonly = ["enrollment", "trigger_session", "assigned_to", "status", "resolved_at"]
        if obj is not None and obj.status == FollowUpTask.Status.DONE:
            readonly.append("outcome")
        return readonly

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        done = obj is not None and obj.status == FollowUpTask.Status.DONE
        return not done and super().has_change_permission(request, obj)

    def service_save(self, request, obj, data, change):
        return services.follow_up_resolve(task=obj, by=request.user, outcome=data["outcome"])


@admin.register(ConsentText)
class ConsentTextAdmin(TenantAdmin):
    """The texts people agree to: a new version is published here; a published one is never
    edited (consents point at it)."""

    list_display = ("purpose", "language", "version", "valid_from", "requires_renewal")
    list_filter = ("institution", "purpose", "language", "requires_renewal")
    search_fields = ("version", "body")
    fields = (
        "institution",
        "purpose",
        "language",
        "version",
        "body",
        "valid_from",
        "requires_renewal",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def service_save(self, request, obj, data, change):
        return services.consent_text_publish(
            institution=data["institution"],
            purpose=data["purpose"],
            language=data["language"],
            version=data["version"],
            body=data["body"],
            valid_from=data["valid_from"],
            requires_renewal=bool(data.get("requires_renewal")),
            by=request.user,
        )


@admin.register(AttendanceNotTaken)
class AttendanceNotTakenAdmin(TenantAdmin):
    """Sessions that ended with no marks: raised by the periodic job, done when the marks come."""

    list_display = ("session", "status", "created_at", "resolved_at")
    list_filter = ("institution", "status")
    search_fields = ("session__group__name",)
    fields = ("session", "status", "created_at", "resolved_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
