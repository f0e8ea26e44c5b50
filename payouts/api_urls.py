from django.urls import path

from payouts import api
from reports import api as reports_api

urlpatterns = [
    path("payouts/", api.payouts, name="api-payouts"),
    path("payouts/<id:payout_id>/", api.payout_detail, name="api-payout"),
    path("payouts/<id:pk>/approve/", api.payout_approve, name="api-payout-approve"),
    path("payouts/<id:pk>/cancel/", api.payout_cancel, name="api-payout-cancel"),
    path("payouts/<id:pk>/retry/", api.payout_retry, name="api-payout-retry"),
    path("payout-runs/", api.payout_run, name="api-payout-runs"),
    path("reports/", reports_api.reports, name="api-reports"),
    path("reports/<id:report_id>/", reports_api.report_detail, name="api-report"),
    path("reports/<id:report_id>/download/", reports_api.report_download, name="api-report-download"),
    path("imports/", reports_api.imports, name="api-imports"),
    path("imports/<id:import_id>/", reports_api.import_detail, name="api-import"),
]
