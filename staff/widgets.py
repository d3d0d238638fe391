"""The searchable picker: a <select> that carries only the chosen option, and the address of a
scoped search (staff/views/search.py) from which staff/static/staff/pickers.js (Tom Select)
loads the rest as the user types. The form's field still validates the choice against its own
scoped queryset, so a picker never widens what may be chosen.
"""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def participant_label(participant, name: str = "") -> str:
    label = f"{participant.code} · {participant.alias}"
    return f"{label} · {name}" if name else label


def session_label(session) -> str:
    from django.utils import timezone

    start = timezone.localtime(session.starts_at)
    return f"{start:%Y-%m-%d %H:%M} · {session.group.name} #{session.sequence}"


def user_label(user) -> str:
    return user.get_full_name() or user.get_username()


class SearchSelect(forms.Select):
    """A <select data-search="…"> with the chosen option only (or none): never the whole list."""

    def __init__(self, url_name: str, params: dict | None = None, attrs=None):
        super().__init__(attrs=attrs)
        self.url_name = url_name
        self.params = params or {}

    def __deepcopy__(self, memo):
        copy = super().__deepcopy__(memo)
        copy.params = dict(self.params)
        return copy

    def search_url(self) -> str:
        from urllib.parse import urlencode

        url = reverse(self.url_name)
        return f"{url}?{urlencode(self.params)}" if self.params else url

    def get_context(self, name, value, attrs):
        attrs = {
            **(attrs or {}),
            "data-search": self.search_url(),
            "data-placeholder": str(_("Type to search")),
            "data-no-results": str(_("Nobody or nothing found.")),
            "data-more": str(_("Loading more…")),
        }
        return super().get_context(name, value, attrs)

    def optgroups(self, name, value, attrs=None):
        """The empty option and the chosen one, looked up in the field's own queryset."""
        chosen = [v for v in value if v not in ("", None)]
        options = [self.create_option(name, "", "—", not chosen, 0, attrs=attrs)]
        iterator = self.choices
        queryset = getattr(iterator, "queryset", None)
        if chosen and queryset is not None:
            try:
                found = list(queryset.filter(pk__in=chosen)[:1])
            except (ValueError, TypeError):
                found = []
            for index, obj in enumerate(found, start=1):
                label = iterator.field.label_from_instance(obj)
                options.append(
                    self.create_option(name, str(obj.pk), label, True, index, attrs=attrs)
                )
        return [(None, options, 0)]


class SearchChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField chosen with a SearchSelect; `label` shows a chosen object."""

    def __init__(self, *, queryset, url_name, params=None, label_from=str, **kwargs):
        super().__init__(queryset=queryset, widget=SearchSelect(url_name, params), **kwargs)
        self.label_from = label_from

    def label_from_instance(self, obj):
        return self.label_from(obj)
