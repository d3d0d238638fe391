from django.urls import path

from . import rights, views

app_name = "security"

urlpatterns = [
    path("account/two-factor/", views.two_factor_verify, name="two_factor_verify"),
    path("account/two-factor/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/off/", views.two_factor_off, name="two_factor_off"),
    path("participants/<int:pk>/rights/", rights.participant_rights, name="participant_rights"),
    path(
        "participants/<int:pk>/rights/export.json",
        rights.participant_rights_export,
        name="participant_rights_export",
    ),
]
