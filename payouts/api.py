"""REST API for payouts (/api/v1/payouts/, /api/v1/payout-runs/). Views call payouts.services.

Anyone may see and request payouts of their own payee account. Everything else takes the
permission the admin takes for the same act: payouts.view_payout to see others',
payouts.request_payout to request from any payee, payouts.approve_payout to approve,
payouts.change_payout to cancel, payouts.run_payouts to run payouts or send one again."""

from __future__ import annotations

from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from access import rules
from access.drf import Needs
from api.actions import service_action
from api.pagination import CreatedCursorPagination as JobPagination
from api.schema import PAGE, doc, page_of, query
from jobs.core.inputs import MAX_ID
from payouts import selectors, services
from payouts.models import Payout


class PayoutSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payout
        fields = (
            "id",
            "payee",
            "amount",
            "currency",
            "state",
            "provider",
            "provider_reference",
            "failure_reason",
            "run",
            "created_at",
            "approved_at",
            "expires_at",
            "paid_at",
        )


class PayoutRequestSerializer(serializers.Serializer):
    payee = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = serializers.CharField(max_length=32, help_text='A decimal string, e.g. "125.50".')
    currency = serializers.CharField(max_length=3, required=False)
    reason = serializers.CharField(max_length=500, required=False, default="")


class RunSerializer(serializers.Serializer):
    payees = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, allow_null=True, max_length=100_000
    )
    dry_run = serializers.BooleanField(default=False)
    reason = serializers.CharField(max_length=500, required=False, default="")


class RunResultSerializer(serializers.Serializer):
    run = serializers.CharField(allow_null=True, help_text="The run's key (null for a dry run).")
    dry_run = serializers.BooleanField()
    total = serializers.DecimalField(max_digits=18, decimal_places=2, coerce_to_string=True)
    payouts = serializers.ListField(child=serializers.DictField(), help_text="payee, amount, currency, destination")
    skipped = serializers.ListField(child=serializers.DictField(), help_text="payee, reason")


def _visible(request):
    return selectors.visible_payouts(request.user)


class PayoutPagination(JobPagination):
    ordering = ("-created_at", "-id")


@doc(
    "payouts",
    "List payouts",
    page_of(PayoutSerializer, "PayoutPage"),
    methods=["GET"],
    errors=(400, 401),
    operation_id="payouts_list",
    params=[query("state", str, "Payout state.", enum=Payout.State.values), *PAGE],
)
@doc(
    "payouts",
    "Request a payout",
    PayoutSerializer,
    request=PayoutRequestSerializer,
    status=201,
    errors=(400, 401, 403),
    methods=["POST"],
    description="From your own payee account; from any other needs payouts.request_payout.",
)
@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
def payouts(request):
    """GET: your payouts (all with payouts.view_payout), newest first, ?state= filter. POST:
    request a payout from your own payee account (any with payouts.request_payout)."""
    if request.method == "POST":
        data = PayoutRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        refusal = rules.refusal_to_request_payout(request.user, own_account=selectors.owns_payee(request.user, v["payee"]))
        if refusal:
            return Response({"detail": refusal}, status=status.HTTP_403_FORBIDDEN)
        payout = services.payout_request(v["payee"], v["amount"], currency=v.get("currency"), actor=request.user, reason=v["reason"])
        return Response(PayoutSerializer(payout).data, status=status.HTTP_201_CREATED)
    payouts = _visible(request)
    if "state" in request.query_params:
        if request.query_params["state"] not in Payout.State.values:
            raise ValidationError({"state": [f"must be one of {', '.join(Payout.State.values)}"]})
        payouts = payouts.filter(state=request.query_params["state"])
    paginator = PayoutPagination()
    page = paginator.paginate_queryset(payouts, request)
    return paginator.get_paginated_response(PayoutSerializer(page, many=True).data)


@doc("payouts", "One payout", PayoutSerializer, errors=(401, 404))
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def payout_detail(request, payout_id: int):
    return Response(PayoutSerializer(get_object_or_404(_visible(request), pk=payout_id)).data)


def _action(service, summary, perm):
    return service_action(Payout, service, PayoutSerializer, tag="payouts", summary=f"{summary} ({perm})", permission=Needs(perm))


payout_approve = _action(services.payout_approve, "Approve a payout", rules.APPROVE_PAYOUT)
payout_cancel = _action(services.payout_cancel, "Cancel a payout", "payouts.change_payout")
payout_retry = _action(services.payout_retry, "Send a failed payout again", rules.RUN_PAYOUTS)


@doc(
    "payouts",
    "Run payouts now, or preview with dry_run: 200, nothing written (payouts.run_payouts)",
    RunResultSerializer,
    request=RunSerializer,
    status=201,
    extra={200: RunResultSerializer},
    errors=(400, 401, 403),
)
@api_view(["POST"])
@permission_classes([Needs(rules.RUN_PAYOUTS)])
def payout_run(request):
    """Pay now: {"payees": [ids] or null for all, "dry_run": true to preview}."""
    data = RunSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    plan = services.payout_run(actor=request.user, payee_ids=v.get("payees"), dry_run=v["dry_run"], reason=v["reason"])
    return Response(
        {
            "run": plan.run.run_key if plan.run else None,
            "dry_run": plan.dry_run,
            "total": str(plan.total),
            "payouts": plan.payouts,
            "skipped": plan.skipped,
        },
        status=status.HTTP_200_OK if plan.dry_run else status.HTTP_201_CREATED,
    )
