"""The installable app: the service worker at the root (its scope is the whole staff UI), the
manifest, and the page shown when a page that was not kept is opened without a connection."""

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control


def _static_text(path: str) -> str:
    found = finders.find(path)
    if not found:
        raise Http404
    with open(found, encoding="utf-8") as handle:
        return handle.read()


@cache_control(no_cache=True)
def service_worker(request):
    response = HttpResponse(
        _static_text("staff/sw.js"), content_type="application/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = "/"
    return response


@cache_control(max_age=3600)
def manifest(request):
    return HttpResponse(
        _static_text("staff/manifest.webmanifest"),
        content_type="application/manifest+json; charset=utf-8",
    )


def offline(request):
    """Cached by the service worker at install: it names no one and needs no sign-in."""
    return render(request, "staff/offline.html", {"nav": "offline"})
