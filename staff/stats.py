"""Attendance figures for the staff screens, computed in the database.

The attendance rate is attended (present, late, left early) over marked sessions that were
held; cancelled and not-held sessions do not count.
"""

from dataclasses import dataclass

from django.db.models import Count, Q

from attendance.models import AttendanceRecord
from sessions.models import Session, SupportGroup

ATTENDED = Q(status__in=AttendanceRecord.ATTENDED)


def member_rates(group: SupportGroup) -> dict[int, dict]:
    """{participant_id: {"attended": n, "marked": m, "rate": 0..1 or None}} in one query."""
    rows = (
        AttendanceRecord.objects.filter(session__group=group, session__status=Session.Status.HELD)
        .values("participant_id")
        .annotate(marked=Count("id"), attended=Count("id", filter=ATTENDED))
    )
    return {
        row["participant_id"]: {
            "attended": row["attended"],
            "marked": row["marked"],
            "rate": row["attended"] / row["marked"] if row["marked"] else None,
        }
        for row in rows
    }


@dataclass
class Bar:
    label: str
    attended: int
    marked: int
    x: float
    y: float
    height: float
    marked_y: float
    marked_height: float


@dataclass
class Chart:
    bars: list[Bar]
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    bar_width: float
    max_value: int
    gridlines: list[tuple[int, float]]


def sessions_with_counts(group: SupportGroup):
    """The group's sessions, each with `marked` and `attended` (people), in one query: the
    page's session lists and its chart read the same rows."""
    return group.sessions.annotate(
        marked=Count("attendance_records"),
        attended=Count(
            "attendance_records",
            filter=Q(attendance_records__status__in=AttendanceRecord.ATTENDED),
        ),
    ).order_by("starts_at")


def session_chart(
    group: SupportGroup, *, sessions=None, height: int = 180, bar_width: int = 28
) -> Chart:
    """People attending each held session of the group: solid bars over outlined totals, with
    the numbers written on them, so the chart reads without colour. `sessions`: the group's
    sessions_with_counts, when the caller has them already."""
    if sessions is None:
        sessions = sessions_with_counts(group).filter(status=Session.Status.HELD)
    rows = [
        {"sequence": s.sequence, "marked": s.marked, "attended": s.attended}
        for s in sessions
        if s.status == Session.Status.HELD
    ]
    top, bottom = 16, height - 24
    plot = bottom - top
    max_value = max([r["marked"] for r in rows] + [1])
    gap = 8
    bars = []
    for index, row in enumerate(rows):
        x = 32 + index * (bar_width + gap)
        h = plot * row["attended"] / max_value
        mh = plot * row["marked"] / max_value
        bars.append(
            Bar(
                label=str(row["sequence"]),
                attended=row["attended"],
                marked=row["marked"],
                x=x,
                y=bottom - h,
                height=h,
                marked_y=bottom - mh,
                marked_height=mh,
            )
        )
    step = max(1, max_value // 4)
    gridlines = [(v, bottom - plot * v / max_value) for v in range(0, max_value + 1, step)]
    width = 32 + len(rows) * (bar_width + gap) + 8
    return Chart(
        bars=bars,
        width=max(width, 120),
        height=height,
        plot_top=top,
        plot_bottom=bottom,
        bar_width=bar_width,
        max_value=max_value,
        gridlines=gridlines,
    )


def _n(value: float) -> str:
    """A coordinate for SVG: a dot for the decimal point in every language, two decimals."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def chart_svg(chart: Chart) -> str:
    """The chart's SVG, escaped and marked safe. Written here rather than in a template: a
    group of two years has ~100 bars of four elements each, which the template language took
    ~40 ms to render and this takes ~1."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe
    from django.utils.translation import gettext

    sentence = gettext("Session %(n)s: %(a)s of %(m)s came.")
    desc = " ".join(
        sentence % {"n": bar.label, "a": bar.attended, "m": bar.marked} for bar in chart.bars
    )
    w = _n(chart.width)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {_n(chart.height)}" '
        f'width="{w}" height="{_n(chart.height)}" role="img" '
        'aria-labelledby="chart-title chart-desc" direction="ltr">',
        f'<title id="chart-title">{escape(gettext("People at each session"))}</title>',
        f'<desc id="chart-desc">{escape(desc)}</desc>',
    ]
    for value, y in chart.gridlines:
        parts.append(
            f'<line x1="28" x2="{w}" y1="{_n(y)}" y2="{_n(y)}" stroke="#c5ccd6" stroke-width="1"/>'
            f'<text x="24" y="{_n(y)}" text-anchor="end" dominant-baseline="middle">{value}</text>'
        )
    for bar in chart.bars:
        x, middle = _n(bar.x), _n(bar.x + 14)
        parts.append(
            f'<rect class="total" x="{x}" y="{_n(bar.marked_y)}" width="{_n(chart.bar_width)}" '
            f'height="{_n(bar.marked_height)}"/>'
            f'<rect class="bar" x="{x}" y="{_n(bar.y)}" width="{_n(chart.bar_width)}" '
            f'height="{_n(bar.height)}"/>'
            f'<text x="{middle}" y="{_n(bar.marked_y - 4)}" text-anchor="middle">'
            f"{bar.attended}</text>"
            f'<text x="{middle}" y="{_n(chart.height - 8)}" text-anchor="middle">'
            f"#{escape(bar.label)}</text>"
        )
    parts.append("</svg>")
    # Every text in it is escaped above; the numbers are ints and formatted floats.
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703
