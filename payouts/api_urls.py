from django.urls import path

from payouts import api

urlpatterns = [
    path("payouts/", api.payouts, name="api-payouts"),
    path("payouts/<id:payout_id>/", api.payout_detail, name="api-payout"),
    path("payouts/<id:pk>/approve/", api.payout_approve, name="api-payout-approve"),
    path("payouts/<id:pk>/cancel/", api.payout_cancel, name="api-payout-cancel"),
    path("payouts/<id:pk>/retry/", api.payout_retry, name="api-payout-retry"),
    path("payout-runs/", api.payout_run, name="api-payout-runs"),
]
