from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.converters import IdConverter
from jobs.web import dashboard
from jobs.web import views as jobs_views
from jobs.web.prometheus import metrics_view
from payouts.views import provider_webhook

register_converter(IdConverter, "id")  # before the includes below, which use it

admin.site.site_header = "Conveyor operations"
admin.site.site_title = "Conveyor"
admin.site.index_title = "Jobs, payouts and reports"
# List pages need the width (the columns that matter fit 1,280 px); the header links and the
# index page lead everywhere the sidebar did.
admin.site.enable_nav_sidebar = False

# The operations dashboard lives inside the admin (its login, staff check and URL namespace).
_admin_urls = admin.site.get_urls
admin.site.get_urls = lambda: dashboard.urls() + _admin_urls()

# django-rq registers its dashboard inside the admin (/admin/django_rq/dashboard/),
# behind the admin's staff check.
urlpatterns = [
    path("", jobs_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("api/v1/", include("jobs.api.urls")),
    path("api/v1/", include("payouts.api_urls")),
    path("api/v1/", include("reports.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("webhooks/", include("notifications.urls")),  # providers' delivery reports (signed, no session)
    path("webhooks/payouts/<str:provider>/", provider_webhook, name="payout-webhook"),  # settlement (signed)
    path("metrics", metrics_view, name="metrics"),
    path("health/live", jobs_views.live, name="health-live"),
    path("health/ready", jobs_views.ready, name="health-ready"),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
