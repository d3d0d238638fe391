"""/fhir/r4/: metadata, [type] (search) and [type]/[id] (read); the rest is a FHIR 404."""

from django.urls import path, re_path

from . import views

app_name = "fhir"

urlpatterns = [
    path("", views.UnknownView.as_view(), name="base"),
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    path("<str:resource_type>", views.SearchView.as_view(), name="search"),
    path("<str:resource_type>/<str:resource_id>", views.ReadView.as_view(), name="read"),
    re_path(r"^(?P<rest>.*)$", views.UnknownView.as_view(), name="unknown"),
]
