"""The staff web UI, served at the site root."""

from django.urls import include, path

from .views import (
    auth,
    calendar,
    groups,
    participants,
    pwa,
    reports,
    rules,
    search,
    sessions,
    today,
)

app_name = "staff"

urlpatterns = [
    path("", today.today, name="today"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("offline/", pwa.offline, name="offline"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("follow-ups/<int:pk>/done/", today.follow_up_done, name="follow_up_done"),
    path("notes/<int:pk>/cosign/", rules.note_cosign_view, name="note_cosign"),
    path(
        "participants/<int:pk>/consents/<int:consent>/scan/",
        rules.consent_scan_upload,
        name="consent_scan_upload",
    ),
    path(
        "participants/<int:pk>/consents/<int:consent>/scan/download/",
        rules.consent_scan_download,
        name="consent_scan",
    ),
    path("calendar/", calendar.calendar, name="calendar"),
    path("sessions/<int:pk>/", sessions.session_detail, name="session"),
    path("sessions/<int:pk>/mark/", sessions.session_mark, name="session_mark"),
    path("sessions/<int:pk>/mark-all/", sessions.session_mark_all, name="session_mark_all"),
    path("sessions/<int:pk>/note/", sessions.session_note, name="session_note"),
    path("sessions/<int:pk>/sign/", sessions.session_sign, name="session_sign"),
    path("sessions/<int:pk>/addendum/", sessions.session_addendum, name="session_addendum"),
    path("sessions/<int:pk>/not-held/", sessions.session_not_held, name="session_not_held"),
    path("sessions/<int:pk>/walk-in/", sessions.session_walk_in, name="session_walk_in"),
    path("sessions/<int:pk>/cancel/", sessions.session_cancel_view, name="session_cancel"),
    path(
        "sessions/<int:pk>/reschedule/",
        sessions.session_reschedule_view,
        name="session_reschedule",
    ),
    path("groups/", groups.group_list, name="groups"),
    path("groups/new/", groups.group_new, name="group_new"),
    path("groups/<int:pk>/", groups.group_detail, name="group"),
    path("groups/<int:pk>/edit/", groups.group_edit, name="group_edit"),
    path("groups/<int:pk>/members/", groups.group_add_member, name="group_add_member"),
    path(
        "groups/<int:pk>/enrollments/<int:enrollment>/<str:verb>/",
        groups.enrollment_action,
        name="enrollment_action",
    ),
    path("groups/<int:pk>/facilitators/", groups.group_facilitator, name="group_facilitator"),
    path("participants/", participants.participant_list, name="participants"),
    path("participants/<int:pk>/", participants.participant_detail, name="participant"),
    path(
        "participants/<int:pk>/consents/",
        participants.consent_record,
        name="participant_consent",
    ),
    path(
        "participants/<int:pk>/consents/<int:consent>/withdraw/",
        participants.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path(
        "participants/<int:pk>/identity/",
        participants.participant_identity,
        name="participant_identity",
    ),
    path("search/", search.search_page, name="search"),
    path("search/participants/", search.participants_json, name="search_participants"),
    path("search/groups/", search.groups_json, name="search_groups"),
    path("search/sessions/", search.sessions_json, name="search_sessions"),
    path("search/staff/", search.staff_json, name="search_staff"),
    path("", include("staff.views.imports")),  # spreadsheets: import and export (imports/…)
    path("reports/", reports.report_list, name="reports"),
    path("reports/<int:pk>/", reports.report_detail, name="report"),
    path("reports/<int:pk>/download/", reports.report_file, name="report_file"),
]
