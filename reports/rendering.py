"""HTML → PDF with WeasyPrint, loading nothing but the project's own static files.

Text typed by users (a group name, a note) is escaped by the template engine, and even if
markup slipped through, the URL fetcher below refuses anything that is not one of our static
files: no http(s), no file://, no data:, no path outside the static finders.
"""

import logging
import mimetypes
from pathlib import PurePosixPath

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

logger = logging.getLogger(__name__)

# The only origin a report may load from. It is not a real host: the fetcher maps it to the
# static finders and never opens a connection.
STATIC_ORIGIN = "https://report.krag.invalid/static/"
# Only these directories of the static files, and only these kinds of file.
ALLOWED_PREFIXES = ("reports/",)
ALLOWED_SUFFIXES = {".ttf", ".otf", ".woff", ".woff2", ".css", ".svg", ".png"}


class ForbiddenURL(ValueError):
    """A report tried to load something that is not one of the project's static files."""


class StaticOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves the project's report static files and nothing else."""

    def __init__(self):
        super().__init__(allowed_protocols=("https",), allow_redirects=False)
        self.fetched: list[str] = []

    def fetch(self, url, headers=None):
        path = static_path(url)
        found = finders.find(path)
        if not found:
            raise ForbiddenURL(f"No such report static file: {path}")
        self.fetched.append(url)
        with open(found, "rb") as handle:
            body = handle.read()
        content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


def static_path(url: str) -> str:
    """The static path a report URL names, or ForbiddenURL for anything else."""
    if not url.startswith(STATIC_ORIGIN):
        logger.warning("Report tried to load a forbidden URL: %.200s", url)
        raise ForbiddenURL(f"Reports load only the project's static files, not {url[:200]!r}")
    path = url[len(STATIC_ORIGIN) :].split("?")[0].split("#")[0]
    parts = PurePosixPath(path).parts
    if (
        not path.startswith(ALLOWED_PREFIXES)
        or ".." in parts
        or "\\" in path
        or "%" in path
        or PurePosixPath(path).suffix.lower() not in ALLOWED_SUFFIXES
    ):
        raise ForbiddenURL(f"Not a report static file: {path[:200]!r}")
    return path


def render_html(template: str, context: dict, language: str) -> str:
    """The report's final HTML, with every Django-formatted value in `language`."""
    with translation.override(language):
        return render_to_string(template, {**context, "static_origin": STATIC_ORIGIN})


def html_to_pdf(html: str, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    """Lay out final HTML; used by the reports and by the benchmark's floor."""
    fetcher = fetcher or StaticOnlyFetcher()
    font_config = FontConfiguration()
    document = HTML(string=html, base_url=STATIC_ORIGIN, url_fetcher=fetcher)
    return document.write_pdf(font_config=font_config)


def render_pdf(template: str, context: dict, language: str) -> bytes:
    return html_to_pdf(render_html(template, context, language))
