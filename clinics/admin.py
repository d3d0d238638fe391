"""The Django admin for institution admins, and the base class every Krąg admin shares.

`TenantAdmin` holds the rules once:

- **Who may use the admin.** The Django admin is the institution admin's tool (SPEC: "sets up
  sites, rooms, staff and roles"). A user with an active `admin` membership (and `is_staff`, which
  Django needs to log in) gets full use of it within the institutions they administer; superusers
  everywhere. Facilitators, staff and auditors are not offered the admin at all: their work is
  in the staff web UI and the API, where their role's narrower view of names and notes is kept.
  So the permission checks ask the user's `StaffMembership` role, not Django's per-model
  permission table.
- **What they see.** Every changelist, change page, filter and foreign-key choice is scoped to
  the institutions the user administers; another institution's object does not exist for them.
- **How rows are written.** Through the services, never by `Model.save()`: the form is first
  validated by running the service in a savepoint that is rolled back, so a rule the service
  refuses becomes a form error; `save_model` then runs it for real.
- **What is never deleted.** Nothing of the domain is deleted from the admin (clinical rows are
  withdrawn, cancelled or erased through their services); a subclass opts in with `can_delete`.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponse
from django.template import engines
from django.utils.translation import gettext_lazy as _

from attendance.models import Consent, Enrollment
from audit.services import audit_record, listed_details

from . import services
from .models import Institution, Participant, Room, Site, StaffMembership
from .querysets import institution_ids_for
from .roles import Role

ADMIN_ROLES = (Role.ADMIN,)


def admin_institution_ids(user):
    """The institutions whose admin `user` is (all of them for a superuser), as a subquery."""
    return institution_ids_for(user, ADMIN_ROLES)


def is_institution_admin(user) -> bool:
    if not (user and user.is_active and user.is_authenticated):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_krag_is_institution_admin", None)
    if cached is None:
        cached = StaffMembership.objects.filter(user=user, role=Role.ADMIN, is_active=True).exists()
        user._krag_is_institution_admin = cached
    return cached


def choices_for(user, model):
    """The rows of `model` that `user` may pick in an admin form; None if `model` is not scoped."""
    if model is get_user_model():
        users = model.objects.filter(is_active=True)
        if user.is_superuser:
            return users
        # Colleagues in the institutions they administer, and accounts not yet placed anywhere
        # (a new colleague the operator has just created).
        return users.filter(
            Q(memberships__institution__in=admin_institution_ids(user))
            | Q(memberships__isnull=True),
            is_superuser=False,
        ).distinct()
    rows = model._default_manager.all()
    if hasattr(rows, "for_user") and model._meta.app_label != "audit":
        return rows.for_user(user, roles=ADMIN_ROLES)
    return None


def facilitator_choices(user):
    """Who may be picked to lead a group or substitute: admins and facilitators of the
    institutions `user` administers."""
    User = get_user_model()
    members = StaffMembership.objects.filter(
        is_active=True, role__in=[Role.ADMIN, Role.FACILITATOR]
    )
    if not user.is_superuser:
        members = members.filter(institution__in=admin_institution_ids(user))
    return User.objects.filter(is_active=True, pk__in=members.values("user_id"))


class _DryRun(Exception):
    """Raised inside a savepoint to roll back a service call made only to validate a form."""


def _add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's refusal on the form: on the field it names when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field in form.fields:
                form.add_error(field, errors)
            else:
                form.add_error(None, [f"{field}: {e}" if field != "__all__" else e for e in errors])
    else:
        form.add_error(None, exc.messages)


_REASON_TEMPLATE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<form method="post">{% csrf_token %}
  <p>{{ question }}</p>
  <ul>{% for obj in objects %}<li>{{ obj }}</li>{% endfor %}</ul>
  {{ form.as_p }}
  {% for obj in objects %}<input type="hidden" name="_selected_action" value="{{ obj.pk }}">{% endfor %}
  <input type="hidden" name="action" value="{{ action }}">
  <input type="hidden" name="apply" value="1">
  <input type="submit" value="{{ title }}">
</form>
{% endblock %}"""
)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}))


class TenantAdmin(admin.ModelAdmin):
    """The base of every Krąg admin: institution-scoped reads, service-backed writes.

    Subclasses set `institution_path` (how a row reaches its institution) and implement
    `service_save(request, obj, data, change)` — `obj` is a fresh copy from the database (None
    when adding), `data` the form's cleaned data — returning the saved object.
    """

    institution_path = "institution"
    can_delete = False
    read_only = False

    # --- who may do what ---------------------------------------------------------------------

    def has_module_permission(self, request):
        return is_institution_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_institution_admin(request.user)

    def has_add_permission(self, request):
        return not self.read_only and is_institution_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return not self.read_only and is_institution_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return self.can_delete and is_institution_admin(request.user)

    # --- what they see -----------------------------------------------------------------------

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.institution_path}__in": admin_institution_ids(request.user)})

    def scoped_choices(self, request, model):
        return choices_for(request.user, model)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = self.scoped_choices(request, db_field.related_model)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        # A plain related filter would list every institution's rows; this one lists only the
        # values present in the (scoped) changelist.
        return [
            (f, admin.RelatedOnlyFieldListFilter) if isinstance(f, str) and self._is_fk(f) else f
            for f in super().get_list_filter(request)
        ]

    def _is_fk(self, path: str) -> bool:
        model = self.model
        field = None
        for part in path.split("__"):
            field = model._meta.get_field(part)
            if not field.is_relation:
                return False
            model = field.related_model
        return field is not None and field.is_relation

    # --- how rows are written ----------------------------------------------------------------

    def service_save(self, request, obj, data: dict, change: bool):
        raise NotImplementedError

    def _fresh(self, obj):
        return type(obj)._default_manager.get(pk=obj.pk) if obj is not None and obj.pk else None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(form_class):
            def clean(self):
                cleaned = super().clean()
                if not self.errors:
                    model_admin._dry_run(request, self, obj)
                return cleaned

        return ServiceForm

    def _dry_run(self, request, form, obj) -> None:
        try:
            with transaction.atomic():
                self.service_save(request, self._fresh(obj), form.cleaned_data, obj is not None)
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            _add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc) or _("Your role does not allow this."))

    def save_model(self, request, obj, form, change):
        saved = self.service_save(request, self._fresh(obj), form.cleaned_data, change)
        obj.__dict__.update(saved.__dict__)

    def delete_model(self, request, obj):
        raise PermissionDenied

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.can_delete:
            actions.pop("delete_selected", None)
        return actions

    # --- actions that call a service per selected row ----------------------------------------

    def run_service(self, request, queryset, call, done_message) -> None:
        """Apply `call(obj)` to each row, each in its own transaction; report refusals by row."""
        done = 0
        for obj in queryset:
            try:
                with transaction.atomic():
                    call(obj)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                text = " ".join(getattr(exc, "messages", None) or [str(exc)])
                self.message_user(request, f"{obj}: {text}", messages.ERROR)
        if done:
            self.message_user(request, done_message % {"count": done}, messages.SUCCESS)

    def ask_reason(self, request, queryset, *, action: str, title, question, call, done_message):
        """An action that needs a reason: ask for it on an intermediate page, then run `call`."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self.run_service(request, queryset, lambda obj: call(obj, reason), done_message)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "question": question,
            "objects": list(queryset),
            "form": form,
            "action": action,
            "opts": self.model._meta,
        }
        return HttpResponse(_REASON_TEMPLATE.render(context, request))


class ReadOnlyInline(admin.TabularInline):
    """An inline that lists related rows with a link to each; changes go through their own page."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_institution_admin(request.user)


# --- clinics ---------------------------------------------------------------------------------


@admin.register(Institution)
class InstitutionAdmin(TenantAdmin):
    institution_path = "pk"
    list_display = ("name", "kind", "language", "time_zone", "monthly_summary_enabled")
    list_filter = ("kind", "language")
    search_fields = ("name",)
    fields = (
        "name",
        "kind",
        "time_zone",
        "language",
        "letterhead",
        "retention_months",
        "monthly_summary_enabled",
        "require_two_factor",
    )

    def has_add_permission(self, request):
        return request.user.is_superuser

    def service_save(self, request, obj, data, change):
        institution = obj or Institution()
        for name in self.fields:
            setattr(institution, name, data[name])
        return services.institution_save(institution=institution, by=request.user)


class RoomInline(ReadOnlyInline):
    model = Room
    fields = ("name", "capacity", "is_active")
    readonly_fields = fields


@admin.register(Site)
class SiteAdmin(TenantAdmin):
    list_display = ("name", "institution", "address")
    list_filter = ("institution",)
    search_fields = ("name", "address")
    fields = ("institution", "name", "address")
    inlines = [RoomInline]

    def get_readonly_fields(self, request, obj=None):
        return ("institution",) if obj else ()

    def service_save(self, request, obj, data, change):
        site = obj or Site(institution=data["institution"])
        site.name = data["name"]
        site.address = data["address"]
        return services.site_save(site=site, by=request.user)


@admin.register(Room)
class RoomAdmin(TenantAdmin):
    institution_path = "site__institution"
    list_display = ("name", "site", "capacity", "is_active")
    list_filter = ("site__institution", "site", "is_active")
    search_fields = ("name", "site__name")
    fields = ("site", "name", "capacity", "is_active")
    list_select_related = ("site",)

    def service_save(self, request, obj, data, change):
        room = obj or Room()
        for name in self.fields:
            setattr(room, name, data[name])
        return services.room_save(room=room, by=request.user)


@admin.register(StaffMembership)
class StaffMembershipAdmin(TenantAdmin):
    list_display = ("user", "institution", "role", "profession", "is_active")
    list_filter = ("institution", "role", "profession", "is_active")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    fields = ("user", "institution", "role", "profession", "is_active")
    list_select_related = ("user", "institution")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "institution") if obj else ()

    def service_save(self, request, obj, data, change):
        membership = obj or StaffMembership(user=data["user"], institution=data["institution"])
        for name in ("role", "profession", "is_active"):
            setattr(membership, name, data[name])
        return services.membership_save(membership=membership, by=request.user)


def _health_consent_in_force():
    return Exists(
        Consent.objects.active().filter(
            participant=OuterRef("pk"), purpose=Consent.Purpose.HEALTH_DATA
        )
    )


class ParticipantConsentInline(ReadOnlyInline):
    model = Consent
    fields = ("purpose", "status", "method", "text_version", "granted_at", "withdrawn_at")
    readonly_fields = fields
    ordering = ("purpose", "-granted_at")


class ParticipantEnrollmentInline(ReadOnlyInline):
    model = Enrollment
    fk_name = "participant"
    fields = ("group", "status", "joined_on", "left_on")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")


@admin.register(Participant)
class ParticipantAdmin(TenantAdmin):
    """Participants by code and alias. The legal name and contacts are shown (and editable) only
    while the health-data consent is in force; every opening of a record is audited."""

    list_display = ("code", "alias", "shown_name", "institution", "reminder_channel", "erased")
    list_filter = ("institution", "reminder_channel", ("erased_at", admin.EmptyFieldListFilter))
    search_fields = ("code", "alias")
    inlines = [ParticipantConsentInline, ParticipantEnrollmentInline]
    list_select_related = ("institution",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(identity_allowed=_health_consent_in_force())

    @admin.display(description=_("name"))
    def shown_name(self, obj):
        return obj.legal_name if obj.identity_allowed and obj.legal_name else "—"

    @admin.display(description=_("erased"), boolean=True)
    def erased(self, obj):
        return obj.is_erased

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("institution", "alias", "language")
        if obj.is_erased:
            return ("code", "institution", "alias", "erased_at")
        if obj.identity_allowed:
            return ("code", "institution", "alias", *services.PARTICIPANT_EDITABLE[1:])
        return ("code", "institution", "alias", "language")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.is_erased:
            return ("code", "institution", "alias", "erased_at")
        return ("code", "institution")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_erased)

    def service_save(self, request, obj, data, change):
        if obj is None:
            return services.participant_register(
                institution=data["institution"],
                by=request.user,
                alias=data["alias"],
                language=data.get("language", ""),
            )
        fields = {k: v for k, v in data.items() if k in services.PARTICIPANT_EDITABLE}
        return services.participant_update(participant=obj, by=request.user, **fields)

    def changelist_view(self, request, extra_context=None):
        # A page of the list shows names (where consented): logged like the API's list, one
        # event per institution naming everyone shown.
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        shown: dict[int, list[Participant]] = {}
        for participant in changelist.result_list if changelist is not None else ():
            shown.setdefault(participant.institution_id, []).append(participant)
        for participants in shown.values():
            audit_record(
                actor=request.user,
                action="participant.listed",
                institution=participants[0].institution,
                details={**listed_details(participants), "via": "admin"},
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            participant = self.get_object(request, unquote(object_id))
            if participant is not None:
                audit_record(
                    actor=request.user,
                    action="participant.viewed",
                    obj=participant,
                    details={"via": "admin"},
                )
        return super().change_view(request, object_id, form_url, extra_context)


# The admin's own header says which product this is.
admin.site.site_header = _("Krąg administration")
admin.site.site_title = _("Krąg")
admin.site.index_title = _("Institution administration")
