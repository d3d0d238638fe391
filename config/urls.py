import os

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("fhir/r4/", include("fhir.urls")),  # the read-only FHIR R4 facade (docs/fhir.md)
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("reports.urls")),
    path("", include("notifications.urls")),
    path("", include("security.urls")),  # two-factor sign-in pages (/account/two-factor/)
    path("", include("audit.urls")),  # the audit log for institution admins (/audit/)
    path("", include("staff.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Benchmark floor (bench/floor.py): bare views the benchmark compares the API with. Mounted only
# when the benchmark's server sets KRAG_BENCH_FLOOR=1; never part of the product.
if os.environ.get("KRAG_BENCH_FLOOR") == "1":
    urlpatterns += [path("bench-floor/", include("bench.floor"))]
