from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def percent(value):
    """0.875 -> "88 %" formatted for the active language; None -> an en dash."""
    if not isinstance(value, int | float):
        return "–"
    return f"{number_format(round(value * 100))} %"


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def audit_rows(events):
    """The audit page's events as sentences with local dates (staff/audit_text.py)."""
    from staff.audit_text import audit_rows as rows

    return rows(events)


@register.simple_tag
def svg_chart(chart):
    """The group's attendance chart as SVG (staff.stats.chart_svg)."""
    from ..stats import chart_svg

    return chart_svg(chart)
