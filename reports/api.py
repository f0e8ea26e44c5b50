"""REST API for reports, exports and imports (/api/v1/reports/, /api/v1/imports/)."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import parsers, permissions, serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api.schema import doc
from jobs.api.views import IsStaff
from payouts.models import Payee
from reports import views as report_views
from reports.exports import ReportError
from reports.models import Import, Report
from reports.selectors import can_download
from reports.services import report_request


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ("id", "kind", "parameters", "state", "progress", "progress_message", "file_name", "size", "row_count", "error",
                  "created_at", "finished_at", "expires_at")


class ImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Import
        fields = ("id", "kind", "original_name", "state", "progress", "rows", "created", "updated", "skipped", "failed", "errors",
                  "error", "created_at", "finished_at")


class ReportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Report.Kind.values)
    parameters = serializers.DictField(required=False, default=dict)


class ImportUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Import.Kind.values)
    file = serializers.FileField(help_text="CSV or XLSX (IMPORT_MAX_BYTES).")


def _visible(request):
    reports = Report.objects.all()
    if request.user.is_staff and request.user.has_perm("reports.view_report"):
        return reports
    return reports.filter(requested_by=request.user)


@doc("reports", "List reports", ReportSerializer(many=True), errors=(401,), methods=["GET"])
@doc("reports", "Request a report or export", ReportSerializer, request=ReportRequestSerializer, status=201, errors=(400, 401), methods=["POST"])
@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
def reports(request):
    """GET: reports you may see. POST: request one; users other than staff may request only
    statements of their own payee account."""
    if request.method == "POST":
        data = ReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind, params = data.validated_data["kind"], data.validated_data["parameters"]
        if not request.user.is_staff:
            own = Payee.objects.filter(user=request.user, pk=params.get("payee") if str(params.get("payee", "")).isdigit() else None)
            if kind != Report.Kind.PAYEE_STATEMENT or not own.exists():
                raise ValidationError({"kind": ["you may request only statements of your own payee account"]})
        try:
            report = report_request(kind, params, requested_by=request.user)
        except ReportError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
    return Response(ReportSerializer(_visible(request).order_by("-created_at")[:200], many=True).data)


@doc("reports", "One report", ReportSerializer, errors=(401, 404))
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def report_detail(request, report_id: int):
    report = get_object_or_404(Report, pk=report_id)
    if not can_download(request.user, report):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return Response(ReportSerializer(report).data)


class ReportDownload(APIView):
    """The file (the same rules as /reports/<id>/download/), for token and session clients."""

    permission_classes = [permissions.IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # The answer is a file whatever the client accepts; errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @doc("reports", "Download a report's file", OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment."),
         errors=(401, 404), extra={409: OpenApiResponse(description="Not ready yet."),
                                   410: OpenApiResponse(description="Deleted by the retention rule; request it again.")})
    def get(self, request, report_id: int):
        request._request.user = request.user
        return report_views.download.__wrapped__(request._request, report_id)


report_download = ReportDownload.as_view()


@doc("imports", "Recent imports", ImportSerializer(many=True), errors=(401, 403), methods=["GET"])
@doc("imports", "Upload an import", ImportSerializer, request={"multipart/form-data": ImportUploadSerializer}, status=201,
     errors=(400, 401, 403), methods=["POST"])
@api_view(["GET", "POST"])
@permission_classes([IsStaff])
@parser_classes([parsers.MultiPartParser, parsers.FormParser])
def imports(request):
    """GET: recent imports. POST (multipart): kind=payees|ledger, file=<csv or xlsx>."""
    from reports.imports import import_request

    if request.method == "POST":
        try:
            record = import_request(request.data.get("kind", ""), request.FILES.get("file"), requested_by=request.user)
        except ReportError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        return Response(ImportSerializer(record).data, status=status.HTTP_201_CREATED)
    return Response(ImportSerializer(Import.objects.order_by("-created_at")[:200], many=True).data)


@doc("imports", "One import, with its counts and row errors", ImportSerializer, errors=(401, 403, 404))
@api_view(["GET"])
@permission_classes([IsStaff])
def import_detail(request, import_id: int):
    return Response(ImportSerializer(get_object_or_404(Import, pk=import_id)).data)
