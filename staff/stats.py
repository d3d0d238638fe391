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


def session_chart(group: SupportGroup, *, height: int = 180, bar_width: int = 28) -> Chart:
    """People attending each held session of the group: solid bars over outlined totals, with
    the numbers written on them, so the chart reads without colour."""
    rows = (
        Session.objects.filter(group=group, status=Session.Status.HELD)
        .annotate(
            marked=Count("attendance_records"),
            attended=Count(
                "attendance_records",
                filter=Q(attendance_records__status__in=AttendanceRecord.ATTENDED),
            ),
        )
        .order_by("starts_at")
        .values("sequence", "marked", "attended")
    )
    rows = list(rows)
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
