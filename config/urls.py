from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.core import metrics as core_metrics
from apps.core import views as core_views

api_v1 = [
    path("", include("apps.backoffice.api.urls")),
    path("", include("apps.shopdata.api.urls")),
    path("", include("apps.conversations.api.urls")),
    path("", include("apps.metrics.api.urls")),  # SPEC G2, G3
    path("", include("apps.integrations.api.urls")),  # SPEC H2, H4
    path("", include("apps.audit.api.urls")),  # SPEC I5
    path("", include("apps.safety.api.urls")),  # SPEC I6
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_metrics.metrics_view, name="metrics"),  # SPEC I7 (a bearer token)
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves the page's script from its own URL: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.web.urls")),
]

# Errors outside DRF's views (no route, a failure in a middleware): JSON under /api/.
handler400 = core_views.bad_request
handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
handler500 = core_views.server_error
