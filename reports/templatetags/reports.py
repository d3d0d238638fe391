"""Template tags of the PDF reports."""

from django import template
from django.utils.html import format_html

register = template.Library()

LRI, PDI = "\u2066", "\u2069"


@register.tag
def ltr(parser, token):
    """`{% ltr %}2026-10-01 – 2026-12-31{% endltr %}`: a Latin fragment (code, date, number)
    that keeps its left-to-right order inside right-to-left text.

    WeasyPrint gives the span's text to Pango with the paragraph's direction, ignoring the
    span's own, so the fragment is also wrapped in Unicode isolates (LRI … PDI), which the
    bidi algorithm honours within the same run of text.
    """
    nodelist = parser.parse(("endltr",))
    parser.delete_first_token()
    return LtrNode(nodelist)


class LtrNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        return format_html('<span dir="ltr">{}{}{}</span>', LRI, self.nodelist.render(context), PDI)


FSI = "\u2068"


@register.filter
def isolate(value):
    """Text typed by a user (a name, a group, an institution), isolated with its own direction
    (FSI … PDI): "Poradnia „Krąg”" keeps its closing quote on the right in an Arabic report,
    and an Arabic name stays whole in a Polish one. Escaped like any other value."""
    if value in (None, ""):
        return ""
    return format_html("{}{}{}", FSI, value, PDI)


@register.filter
def decimal(value, separator="."):
    """A number with a fraction ("48.5") with the language's decimal separator ("48,5")."""
    text = str(value)
    whole, dot, fraction = text.partition(".")
    if dot and whole.lstrip("-").isdigit() and fraction.isdigit():
        return f"{whole}{separator}{fraction}"
    return text
