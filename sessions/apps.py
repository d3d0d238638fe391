from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupSessionsConfig(AppConfig):
    """Groups and their meetings. Labelled apart from django.contrib.sessions."""

    name = "sessions"
    label = "group_sessions"
    verbose_name = _("Groups and sessions")
