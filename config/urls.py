from django.contrib import admin
from django.urls import include, path

from jobs import views as jobs_views

admin.site.site_header = "Conveyor operations"
admin.site.site_title = "Conveyor"
admin.site.index_title = "Jobs, payouts and reports"

# django-rq registers its dashboard inside the admin (/admin/django_rq/dashboard/),
# behind the admin's staff check.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("api/v1/", include("jobs.api.urls")),
    path("api/v1/", include("payouts.api_urls")),
    path("health/live", jobs_views.live, name="health-live"),
    path("health/ready", jobs_views.ready, name="health-ready"),
]
