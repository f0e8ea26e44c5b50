from django.urls import path

from reports import api

urlpatterns = [
    path("reports/", api.reports, name="api-reports"),
    path("reports/<id:report_id>/", api.report_detail, name="api-report"),
    path("reports/<id:report_id>/download/", api.report_download, name="api-report-download"),
    path("imports/", api.imports, name="api-imports"),
    path("imports/<id:import_id>/", api.import_detail, name="api-import"),
]
