"""The activity summary as printed: its table by group stays inside the page in every language,
Polish numbers have a decimal comma, and an emoji in a name prints with a font that has it."""

import io

import pytest
from pypdf import PdfReader
from weasyprint import HTML

from reports.builders import build
from reports.models import ReportRun
from reports.rendering import STATIC_ORIGIN, StaticOnlyFetcher, render_html
from tests.factories import GroupFactory, SessionFactory

from .conftest import at, pdf_text

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2026-10-01", "end": "2026-12-31"}


@pytest.fixture
def long_named_groups(world, institution_a):
    """Groups with long names (and one emoji) that a narrow table would push off the page."""
    for i in range(3):
        group = GroupFactory(
            institution=institution_a,
            name=f"Grupa wsparcia dla dorosłych dzieci alkoholików, poniedziałkowa nr {i} 🌻",
            category="parenting",
        )
        SessionFactory(
            group=group, starts_at=at("2026-10-12"), ends_at=at("2026-10-12", 19), status="held"
        )
    return world


def _overflow(html: str) -> float:
    """How far, in CSS px, the widest box of any page reaches past the page's content area."""
    document = HTML(string=html, base_url=STATIC_ORIGIN, url_fetcher=StaticOnlyFetcher()).render()
    worst = 0.0
    for page in document.pages:
        page_box = page._page_box
        left = page_box.content_box_x()
        right = left + page_box.width
        for box in page_box.descendants():
            if box is page_box or not hasattr(box, "position_x") or box.width is None:
                continue
            start = box.position_x
            end = start + box.margin_width()
            worst = max(worst, left - start, end - right)
    return worst


@pytest.mark.parametrize("language", ["pl", "en", "ar"])
def test_the_table_by_group_fits_the_page(long_named_groups, institution_a, ewa, language):
    run = ReportRun.objects.create(
        institution=institution_a,
        type="activity_summary",
        language=language,
        parameters={"institution": institution_a.pk, **PERIOD},
        requested_by=ewa,
    )
    built = build(run)
    html = render_html(built.template, built.context, language)
    assert _overflow(html) < 1, "a box reaches past the page's margin"


def test_polish_hours_have_a_decimal_comma(long_named_groups, institution_a, ewa, make_report):
    run = make_report(
        "activity_summary", ewa, language="pl", institution=institution_a.pk, **PERIOD
    )
    assert run.status == "ready", run.error
    text = pdf_text(run)
    # Three sessions of 90 minutes and three of 60: 7.5 hours in all.
    assert "7,5" in text and "7.5" not in text


def test_an_emoji_in_a_name_prints_with_the_emoji_font(
    long_named_groups, institution_a, ewa, make_report
):
    run = make_report(
        "activity_summary", ewa, language="en", institution=institution_a.pk, **PERIOD
    )
    assert run.status == "ready", run.error
    with run.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    fonts = set()
    for page in reader.pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("Emoji" in name for name in fonts), fonts
