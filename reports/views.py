"""The public certificate check: no login, and no more than the certificate itself says."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .labels import LANGUAGES, labels_for
from .models import ReportRun


@require_GET
@never_cache
def verify(request, code: str):
    run = (
        ReportRun.objects.filter(
            type=ReportRun.Type.ATTENDANCE_CERTIFICATE,
            status=ReportRun.Status.READY,
            verification_code=code.strip().upper(),
        )
        .only("language", "certificate_facts", "verification_code")
        .first()
    )
    language = request.GET.get("lang") or (run.language if run else "en")
    if language not in LANGUAGES:
        language = "en"
    context = {
        "t": labels_for(language),
        "language": language,
        "rtl": language == "ar",
        "facts": run.certificate_facts if run else None,
        "code": code,
    }
    return render(request, "reports/verify.html", context, status=200 if run else 404)
