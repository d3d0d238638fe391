"""Admin for groups, their facilitators, schedules, sessions and (for their facilitators) notes.

The rules of scoping and writing are those of `clinics.admin.TenantAdmin`.
"""

import datetime

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from attendance.models import Enrollment
from clinics.admin import (
    ReadOnlyInline,
    TenantAdmin,
    facilitator_choices,
    is_institution_admin,
)

from . import services
from .models import (
    GroupFacilitator,
    NoteAddendum,
    NoteRevision,
    RecurrenceRule,
    Session,
    SessionNote,
    SupportGroup,
)


class FacilitatorInline(admin.TabularInline):
    """A group's facilitators, added, changed and removed through the services."""

    model = GroupFacilitator
    extra = 0
    fields = ("user", "role")

    def has_view_permission(self, request, obj=None):
        return is_institution_admin(request.user)

    def has_add_permission(self, request, obj=None):
        return is_institution_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_institution_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        # Taking a facilitator off a group is not a clinical record (group_facilitator_remove).
        return is_institution_admin(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = facilitator_choices(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SessionInline(ReadOnlyInline):
    model = Session
    fields = ("sequence", "starts_at", "room", "status", "theme")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("room__site", "group")


class GroupEnrollmentInline(ReadOnlyInline):
    model = Enrollment
    fk_name = "group"
    fields = ("participant", "status", "referral_source", "waitlisted_at", "joined_on", "left_on")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("participant")


@admin.register(SupportGroup)
class SupportGroupAdmin(TenantAdmin):
    list_display = ("name", "institution", "category", "membership_mode", "status", "capacity")
    list_filter = ("institution", "category", "membership_mode", "status", "language")
    search_fields = ("name", "description")
    list_select_related = ("institution",)
    inlines = [FacilitatorInline, SessionInline, GroupEnrollmentInline]

    def get_fields(self, request, obj=None):
        # A change of status is a lifecycle move: a pause names the day to resume and a reason.
        return ("institution", *services.GROUP_EDITABLE, "resume_on", "status_reason")

    def get_readonly_fields(self, request, obj=None):
        return ("institution",) if obj else ()

    def service_save(self, request, obj, data, change):
        fields = {k: data[k] for k in services.GROUP_EDITABLE if k in data}
        if obj is None:
            return services.group_create(institution=data["institution"], by=request.user, **fields)
        changed = {k: v for k, v in fields.items() if getattr(obj, k) != v}
        return services.group_update(
            group=obj,
            by=request.user,
            resume_on=data.get("resume_on"),
            reason=data.get("status_reason") or "",
            **changed,
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not GroupFacilitator:
            return super().save_formset(request, form, formset, change)
        group = form.instance
        # The change message of the admin's history reads these lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() and inline_form not in formset.deleted_forms:
                continue
            user = inline_form.cleaned_data.get("user")
            if user is None:
                continue
            if inline_form in formset.deleted_forms:
                services.group_facilitator_remove(group=group, user=user, by=request.user)
                formset.deleted_objects.append(inline_form.instance)
            else:
                facilitator = services.group_facilitator_set(
                    group=group, user=user, role=inline_form.cleaned_data["role"], by=request.user
                )
                if inline_form.instance.pk:
                    formset.changed_objects.append((facilitator, inline_form.changed_data))
                else:
                    formset.new_objects.append(facilitator)


@admin.register(GroupFacilitator)
class GroupFacilitatorAdmin(TenantAdmin):
    """Who leads which group. Removing a facilitator is allowed: it is not a clinical record."""

    institution_path = "group__institution"
    can_delete = True
    list_display = ("user", "group", "role")
    list_filter = ("group__institution", "role")
    search_fields = ("user__username", "user__first_name", "user__last_name", "group__name")
    fields = ("group", "user", "role")
    list_select_related = ("user", "group")

    def scoped_choices(self, request, model):
        if model is get_user_model():
            return facilitator_choices(request.user)
        return super().scoped_choices(request, model)

    def get_readonly_fields(self, request, obj=None):
        return ("group", "user") if obj else ()

    def service_save(self, request, obj, data, change):
        group = obj.group if obj else data["group"]
        user = obj.user if obj else data["user"]
        return services.group_facilitator_set(
            group=group, user=user, role=data["role"], by=request.user
        )

    def delete_model(self, request, obj):
        services.group_facilitator_remove(group=obj.group, user=obj.user, by=request.user)


class RecurrenceForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("weekdays"),
        coerce=int,
        choices=[
            (0, _("Monday")),
            (1, _("Tuesday")),
            (2, _("Wednesday")),
            (3, _("Thursday")),
            (4, _("Friday")),
            (5, _("Saturday")),
            (6, _("Sunday")),
        ],
        widget=forms.CheckboxSelectMultiple,
    )
    skip_dates = forms.CharField(
        label=_("skipped dates"),
        required=False,
        help_text=_("Dates without a session, separated by commas: 2026-12-24, 2026-12-31."),
    )

    class Meta:
        model = RecurrenceRule
        fields = (
            "group",
            "weekdays",
            "interval_weeks",
            "start_time",
            "duration_minutes",
            "starts_on",
            "until",
            "count",
            "skip_dates",
            "room",
            "online_link",
        )

    def clean_skip_dates(self):
        raw = self.cleaned_data.get("skip_dates") or ""
        if isinstance(raw, list):
            raw = ",".join(raw)
        try:
            return [datetime.date.fromisoformat(p.strip()) for p in raw.split(",") if p.strip()]
        except ValueError as exc:
            raise ValidationError(_("Give dates as YYYY-MM-DD, separated by commas.")) from exc


@admin.register(RecurrenceRule)
class RecurrenceRuleAdmin(TenantAdmin):
    """A schedule creates its sessions at once (all or none); afterwards each session is moved
    or cancelled on its own, so a rule is not edited."""

    institution_path = "group__institution"
    form = RecurrenceForm
    list_display = ("group", "weekdays", "start_time", "duration_minutes", "starts_on", "until")
    list_filter = ("group__institution", "group")
    search_fields = ("group__name",)
    fields = (
        "group",
        "weekdays",
        "interval_weeks",
        "start_time",
        "duration_minutes",
        "starts_on",
        "until",
        "count",
        "skip_dates",
        "room",
        "online_link",
    )
    list_select_related = ("group",)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def service_save(self, request, obj, data, change):
        sessions = services.schedule_create(
            group=data["group"],
            by=request.user,
            weekdays=data["weekdays"],
            start_time=data["start_time"],
            duration_minutes=data["duration_minutes"],
            starts_on=data["starts_on"],
            until=data.get("until"),
            count=data.get("count"),
            skip_dates=data.get("skip_dates") or [],
            interval_weeks=data.get("interval_weeks") or 1,
            room=data.get("room"),
            online_link=data.get("online_link") or "",
        )
        return sessions[0].recurrence


class CancelForm(forms.Form):
    cancelled_by = forms.ChoiceField(label=_("cancelled by"), choices=Session.CancelledBy.choices)


@admin.register(Session)
class SessionAdmin(TenantAdmin):
    """Sessions are scheduled, moved and given a theme or substitute here; they are never
    deleted — the action cancels them with a reason."""

    list_display = ("__str__", "group", "starts_at", "room", "status", "theme")
    list_filter = ("institution", "status", "group", ("starts_at", admin.DateFieldListFilter))
    search_fields = ("group__name", "theme")
    date_hierarchy = "starts_at"
    list_select_related = ("group", "room__site", "institution")
    actions = ["cancel_sessions"]
    EDITABLE = (
        "starts_at",
        "ends_at",
        "room",
        "online_link",
        "theme",
        "substitute_facilitator",
        "is_entry_point",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("group", "starts_at", "ends_at", "room", "online_link", "theme")
        return (
            "group",
            "sequence",
            "status",
            *self.EDITABLE,
            "cancelled_by",
            "cancellation_reason",
            "cancelled_at",
        )

    def scoped_choices(self, request, model):
        if model is get_user_model():
            return facilitator_choices(request.user)
        return super().scoped_choices(request, model)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        readonly = ["group", "sequence", "status", "cancelled_by", "cancellation_reason"]
        readonly.append("cancelled_at")
        if obj.status != Session.Status.SCHEDULED:
            readonly += ["starts_at", "ends_at", "room", "online_link"]
        return readonly

    def service_save(self, request, obj, data, change):
        if obj is None:
            return services.session_schedule(
                group=data["group"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                room=data.get("room"),
                online_link=data.get("online_link") or "",
                theme=data.get("theme") or "",
                by=request.user,
            )
        moved = {
            k: data[k]
            for k in ("starts_at", "ends_at", "room", "online_link")
            if k in data and getattr(obj, k) != data[k]
        }
        if moved:
            if "room" in moved and moved["room"] is None:
                moved["room"] = ""  # the service's "no room" (None means "unchanged")
            obj = services.session_reschedule(session=obj, by=request.user, **moved)
        details = {}
        if "theme" in data and data["theme"] != obj.theme:
            details["theme"] = data["theme"]
        if "substitute_facilitator" in data and (
            data["substitute_facilitator"] != obj.substitute_facilitator
        ):
            details["substitute_facilitator"] = data["substitute_facilitator"]
        if "is_entry_point" in data and data["is_entry_point"] != obj.is_entry_point:
            details["is_entry_point"] = data["is_entry_point"]
        if details:
            obj = services.session_update(session=obj, by=request.user, **details)
        return obj

    @admin.action(description=_("Cancel the selected sessions (with a reason)"))
    def cancel_sessions(self, request, queryset):
        return self.ask_reason(
            request,
            queryset,
            action="cancel_sessions",
            title=_("Cancel sessions"),
            question=_("Why are these sessions cancelled? Members will be told."),
            call=lambda session, reason: services.session_cancel(
                session=session, by=request.user, reason=reason
            ),
            done_message=_("%(count)d session(s) cancelled."),
        )


class NoteRevisionInline(ReadOnlyInline):
    model = NoteRevision
    fields = ("created_at", "edited_by", "theme", "text")
    readonly_fields = fields
    show_change_link = False


class NoteAddendumInline(ReadOnlyInline):
    model = NoteAddendum
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    show_change_link = False


@admin.register(SessionNote)
class SessionNoteAdmin(TenantAdmin):
    """Notes are read here only by the facilitators of the group (an institution admin who does
    not lead the group sees none, nor does the platform operator); they are written, signed and
    amended in the staff UI, where the note services run."""

    institution_path = "session__institution"
    read_only = True
    list_display = ("session", "kind", "participant", "author", "signed_at")
    list_filter = ("kind", ("signed_at", admin.EmptyFieldListFilter))
    # Not "theme": notes are encrypted at rest, the database cannot search them.
    search_fields = ("session__group__name",)
    fields = (
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
    )
    readonly_fields = fields
    inlines = [NoteRevisionInline, NoteAddendumInline]

    def get_queryset(self, request):
        return (
            SessionNote.objects.readable_by(request.user)
            .select_related("session__group", "participant", "author")
            .order_by("-session__starts_at", "kind")
        )
