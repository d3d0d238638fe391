"""The REST API's URLs: one router for the resources, plain paths for auth, me and the schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from .views.attendance import AttendanceRecordViewSet, ConsentViewSet, EnrollmentViewSet
from .views.audit import AuditEventViewSet
from .views.auth import LoginView, LogoutView
from .views.calendar import CalendarAddressView, CalendarFeedView
from .views.clinics import (
    InstitutionViewSet,
    MeView,
    ParticipantViewSet,
    RoomViewSet,
    SiteViewSet,
)
from .views.consent_texts import ConsentTextViewSet
from .views.imports import ImportJobViewSet
from .views.privacy import ParticipantEraseView, ParticipantExportView
from .views.reports import ReportRunViewSet
from .views.sessions import GroupViewSet, SessionNoteViewSet, SessionViewSet

router = DefaultRouter()
# --- Resources (one block; keep registrations here) -------------------------------------------
router.register("institutions", InstitutionViewSet, basename="institution")
router.register("sites", SiteViewSet, basename="site")
router.register("rooms", RoomViewSet, basename="room")
router.register("participants", ParticipantViewSet, basename="participant")
router.register("groups", GroupViewSet, basename="group")
router.register("sessions", SessionViewSet, basename="session")
router.register("notes", SessionNoteViewSet, basename="note")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")
router.register("consents", ConsentViewSet, basename="consent")
router.register("consent-texts", ConsentTextViewSet, basename="consenttext")
router.register("attendance", AttendanceRecordViewSet, basename="attendance")
router.register("reports", ReportRunViewSet, basename="reportrun")
router.register("audit-events", AuditEventViewSet, basename="auditevent")
router.register("imports", ImportJobViewSet, basename="importjob")
# --- end of resources -------------------------------------------------------------------------

urlpatterns = [
    path("auth/token/", LoginView.as_view(), name="api-token"),
    path("auth/logout/", LogoutView.as_view(), name="api-logout"),
    # Participants' rights (api/views/privacy.py), before the router's participants/{id}/.
    path("participants/<int:pk>/export/", ParticipantExportView.as_view(), name="api-export"),
    path("participants/<int:pk>/erase/", ParticipantEraseView.as_view(), name="api-erase"),
    path("me/", MeView.as_view(), name="api-me"),
    path("me/calendar/", CalendarAddressView.as_view(), name="api-me-calendar"),
    path("calendar/<str:secret>.ics", CalendarFeedView.as_view(), name="api-calendar-feed"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from a URL: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
