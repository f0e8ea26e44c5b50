from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.template.defaultfilters import filesizeformat

from access import rules
from audit.services import audit
from reports import builders, selectors
from reports.imports import import_check, import_request
from reports.services import analytics_fan_out

User = get_user_model()


class ConveyorUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, "run_analytics"]

    def has_run_analytics_permission(self, request):
        return rules.has(request.user, rules.ENQUEUE_TASK)

    @admin.action(description="Run per-user analytics now", permissions=["run_analytics"])
    def run_analytics(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        result = analytics_fan_out(ids, created_by=request.user)
        audit(request.user, "analytics.run_now", "users", ",".join(map(str, ids))[:64], details=result)
        self.message_user(
            request, f"Analytics: {result['enqueued']} job(s) enqueued, {result['already_waiting']} already waiting.", messages.SUCCESS
        )


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ConveyorUserAdmin)


# --- Reports and exports ---------------------------------------------------------

import json  # noqa: E402

from django import forms  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.html import format_html, format_html_join  # noqa: E402

from jobs.admin.display import clipped, compact_time  # noqa: E402
from jobs.admin.fields import add_field_error  # noqa: E402
from jobs.core import inputs  # noqa: E402
from reports import exports  # noqa: E402
from reports.models import Import, Report, UserFigures  # noqa: E402
from reports.services import report_request  # noqa: E402


class ReportRequestForm(forms.ModelForm):
    """Staff pick a kind and fill the parameters it needs; the service validates them."""

    period_start = forms.DateField(required=False, help_text="Payout summary and payee statement.")
    period_end = forms.DateField(required=False)
    date = forms.DateField(required=False, help_text="Daily operations report.")
    payee = forms.IntegerField(required=False, help_text="Payee statement: the payee's id.")
    dataset = forms.ChoiceField(required=False, choices=[("", "-")] + [(d, d) for d in exports.DATASETS], help_text="Export.")
    format = forms.ChoiceField(required=False, choices=[(f, f.upper()) for f in exports.FORMATS], initial="csv")
    filters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Export filters as JSON, e.g. {"state": "paid", "created_from": "2026-11-01"}.',
    )

    class Meta:
        model = Report
        fields = ("kind",)

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == Report.Kind.EXPORT:
            try:
                filters = json.loads(cleaned.get("filters") or "{}")
                inputs.check_json(filters, "filters")
            except (ValueError, RecursionError) as exc:  # FieldError is a ValueError
                raise ValidationError({"filters": getattr(exc, "message", "Not valid JSON.")}) from None
            params = {"dataset": cleaned.get("dataset"), "format": cleaned.get("format") or "csv", "filters": filters}
        else:
            params = {
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in cleaned.items()
                if k in ("period_start", "period_end", "date", "payee") and v not in (None, "")
            }
        self.report_parameters = params
        refusal = selectors.refusal_to_request(self.request_user, kind, params) if kind else None
        if refusal:
            self.add_error("kind", refusal)
        elif kind:
            try:  # the service's own checks, so a bad parameter is a form error on its field
                exports.validate_export(params) if kind == Report.Kind.EXPORT else builders.validate(kind, params)
            except exports.ReportError as exc:
                add_field_error(self, exc)
        return cleaned


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "state", "download", "progress_bar", "requested", "created", "rows_and_size")
    list_filter = ("kind", "state", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=id", "file_name", "requested_by__username")
    readonly_fields = (
        "kind",
        "parameters",
        "requested_by",
        "state",
        "progress_bar",
        "progress_message",
        "download",
        "content_type",
        "size",
        "row_count",
        "error",
        "job_link",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
    )

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ReportRequestForm
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("kind", "period_start", "period_end", "date", "payee", "dataset", "format", "filters")
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        try:
            report = report_request(form.cleaned_data["kind"], form.report_parameters, requested_by=request.user)
        except exports.ReportError as exc:
            raise ValidationError(f"{exc.field}: {exc.message}") from None
        obj.pk = report.pk

    def delete_model(self, request, obj):
        if obj.file:
            obj.file.delete(save=False)
        super().delete_model(request, obj)

    @admin.display(description="progress")
    def progress_bar(self, report):
        return format_html('<progress max="100" value="{}" style="width:50px"></progress> {}%', report.progress, report.progress)

    @admin.display(description="requested by", ordering="requested_by__username")
    def requested(self, report):
        return clipped(report.requested_by.get_username() if report.requested_by else "schedule", 20)

    @admin.display(description="created", ordering="created_at")
    def created(self, report):
        return compact_time(report.created_at)

    @admin.display(description="rows, size")
    def rows_and_size(self, report):
        return f"{report.row_count:,}, {filesizeformat(report.size)}" if report.state == Report.State.DONE else "-"

    @admin.display(description="file")
    def download(self, report):
        if report.state != Report.State.DONE:
            return "-"
        return format_html('<a href="{}" title="{}">Download</a>', reverse("reports:download", args=[report.pk]), report.file_name)

    @admin.display(description="job")
    def job_link(self, report):
        if not report.job_id:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_jobrecord_change", args=[report.job_id]), report.job_id)


@admin.register(UserFigures)
class UserFiguresAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "currency",
        "balance",
        "available",
        "earnings_30d",
        "payouts_paid",
        "paid_total",
        "payouts_in_flight",
        "jobs_last_24h",
        "last_activity",
        "computed_at",
    )
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ImportForm(forms.ModelForm):
    upload = forms.FileField(
        help_text="CSV (UTF-8) or XLSX. Payees: username, currency, and optionally email, account, method, "
        "threshold, active. Ledger credits: username, amount, reference, and optionally currency, memo."
    )

    class Meta:
        model = Import
        fields = ("kind",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = [
            (value, label) for value, label in Import.Kind.choices if rules.has(self.request_user, selectors.IMPORT_PERMISSIONS[value])
        ]
        self.fields["kind"].choices = [("", "---------"), *allowed]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind and not rules.has(self.request_user, selectors.IMPORT_PERMISSIONS[kind]):
            self.add_error("kind", rules.needs(selectors.IMPORT_PERMISSIONS[kind]))
        elif kind and cleaned.get("upload"):
            try:  # the file's checks; it is stored and its import enqueued when the form is saved
                import_check(kind, cleaned["upload"])
                cleaned["upload"].seek(0)
            except exports.ReportError as exc:
                add_field_error(self, exc, {"file": "upload"})
        return cleaned


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "original_name", "state", "progress", "rows", "created", "updated", "skipped", "failed", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("original_name", "sha256")
    readonly_fields = (
        "kind",
        "original_name",
        "sha256",
        "state",
        "progress",
        "rows",
        "created",
        "updated",
        "skipped",
        "failed",
        "error_table",
        "error",
        "requested_by",
        "job",
        "created_at",
        "started_at",
        "finished_at",
        "file_deleted_at",
    )

    def has_add_permission(self, request):
        """Uploading needs the permission for at least one kind: reports.import_payees or import_ledger."""
        return any(rules.has(request.user, perm) for perm in selectors.IMPORT_PERMISSIONS.values())

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ImportForm
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def get_fields(self, request, obj=None):
        return ("kind", "upload") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        try:
            obj.pk = import_request(form.cleaned_data["kind"], form.cleaned_data["upload"], requested_by=request.user).pk
        except exports.ReportError as exc:  # checked by the form a moment ago; only a race lands here
            raise ValidationError(exc.message) from None

    @admin.display(description="row errors")
    def error_table(self, record):
        if not record.errors:
            return "-"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", ((e["row"], e["field"], e["message"]) for e in record.errors[:200])
        )
        return format_html("<table><tr><th>row</th><th>field</th><th>message</th></tr>{}</table>", rows)
