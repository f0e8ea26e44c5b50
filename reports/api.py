"""REST API for reports, exports and imports (/api/v1/reports/, /api/v1/imports/).

Anyone sees the reports and imports they asked for, and may ask for statements of their own
payee account; the rest takes the admin's permissions (reports.selectors): view_report and
view_import to see others', add_report plus the data's view permission to ask for a report,
reports.import_payees or reports.import_ledger to upload an import of that kind."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import parsers, permissions, serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from access import rules
from api.parsers import check_body_length
from api.schema import doc
from reports import selectors
from reports import views as report_views
from reports.imports import import_request
from reports.models import Import, Report
from reports.selectors import can_download
from reports.services import report_request


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = (
            "id",
            "kind",
            "parameters",
            "state",
            "progress",
            "progress_message",
            "file_name",
            "size",
            "row_count",
            "error",
            "created_at",
            "finished_at",
            "expires_at",
        )


class ImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Import
        fields = (
            "id",
            "kind",
            "original_name",
            "state",
            "progress",
            "rows",
            "created",
            "updated",
            "skipped",
            "failed",
            "errors",
            "error",
            "created_at",
            "finished_at",
        )


class ReportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Report.Kind.values)
    parameters = serializers.DictField(required=False, default=dict)


class ImportUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Import.Kind.values)
    file = serializers.FileField(help_text="CSV or XLSX (IMPORT_MAX_BYTES).")


@doc(
    "reports",
    "List reports",
    ReportSerializer(many=True),
    errors=(401,),
    methods=["GET"],
    description="Every report with reports.view_report; otherwise the ones you asked for.",
)
@doc(
    "reports",
    "Request a report or export",
    ReportSerializer,
    request=ReportRequestSerializer,
    status=201,
    errors=(400, 401, 403),
    methods=["POST"],
    description="A statement of your own payee account: anyone. Otherwise reports.add_report and the view "
    "permission of the data (docs/api.md).",
)
@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
def reports(request):
    """GET: reports you may see. POST: request one (reports.selectors.refusal_to_request)."""
    if request.method == "POST":
        data = ReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind, params = data.validated_data["kind"], data.validated_data["parameters"]
        refusal = selectors.refusal_to_request(request.user, kind, params)
        if refusal:
            return Response({"detail": refusal}, status=status.HTTP_403_FORBIDDEN)
        report = report_request(kind, params, requested_by=request.user)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
    return Response(ReportSerializer(selectors.visible_reports(request.user).order_by("-created_at")[:200], many=True).data)


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

    @doc(
        "reports",
        "Download a report's file",
        OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment."),
        errors=(401, 404),
        extra={
            302: OpenApiResponse(
                description="With FILE_STORAGE=s3: a signed link to the file in the object store, valid FILE_DOWNLOAD_URL_TTL seconds."
            ),
            409: OpenApiResponse(description="Not ready yet."),
            410: OpenApiResponse(description="Deleted by the retention rule; request it again."),
        },
    )
    def get(self, request, report_id: int):
        request._request.user = request.user
        return report_views.download.__wrapped__(request._request, report_id)


report_download = ReportDownload.as_view()


# The multipart envelope around the file: field names, boundaries, the kind.
IMPORT_BODY_OVERHEAD = 64 * 1024


@doc(
    "imports",
    "Recent imports",
    ImportSerializer(many=True),
    errors=(401,),
    methods=["GET"],
    description="Every import with reports.view_import; otherwise the ones you uploaded.",
)
@doc(
    "imports",
    "Upload an import",
    ImportSerializer,
    request={"multipart/form-data": ImportUploadSerializer},
    status=201,
    errors=(400, 401, 403),
    methods=["POST"],
    description="kind=payees needs reports.import_payees; kind=ledger reports.import_ledger.",
)
@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
@parser_classes([parsers.MultiPartParser, parsers.FormParser])
def imports(request):
    """GET: recent imports you may see. POST (multipart): kind=payees|ledger, file=<csv or xlsx>."""
    if request.method == "POST":
        if not any(rules.has(request.user, perm) for perm in selectors.IMPORT_PERMISSIONS.values()):
            return Response(
                {"detail": "This needs the reports.import_payees or reports.import_ledger permission."}, status=status.HTTP_403_FORBIDDEN
            )
        check_body_length(request, settings.IMPORT_MAX_BYTES + IMPORT_BODY_OVERHEAD, "IMPORT_MAX_BYTES")
        kind = request.data.get("kind", "")
        if kind not in selectors.IMPORT_PERMISSIONS:
            raise ValidationError({"kind": [f"must be one of {', '.join(Import.Kind.values)}"]})
        if not rules.has(request.user, selectors.IMPORT_PERMISSIONS[kind]):
            return Response({"detail": rules.needs(selectors.IMPORT_PERMISSIONS[kind])}, status=status.HTTP_403_FORBIDDEN)
        record = import_request(kind, request.FILES.get("file"), requested_by=request.user)
        return Response(ImportSerializer(record).data, status=status.HTTP_201_CREATED)
    return Response(ImportSerializer(selectors.visible_imports(request.user).order_by("-created_at")[:200], many=True).data)


@doc("imports", "One import, with its counts and row errors", ImportSerializer, errors=(401, 404))
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def import_detail(request, import_id: int):
    return Response(ImportSerializer(get_object_or_404(selectors.visible_imports(request.user), pk=import_id)).data)
