"""Staff screens for payees, the ledger, payouts, runs, standing instructions and reconciliation.

Every action calls a service in payouts.services, which checks the rules and leaves an
audit entry. Account numbers are write-only here: staff see the last four digits.
Moving money takes its own permission (access.rules): payouts.approve_payout to approve,
payouts.run_payouts to pay now, run or send again; payouts.change_payout only cancels.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from access import rules
from jobs.admin import run_each
from jobs.admin.display import clipped, compact_time
from jobs.admin.fields import add_field_error
from jobs.core.timing import timing_errors
from jobs.models import JobRecord
from payouts import reconciliation, services
from payouts.destinations import check_destination
from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, ReconciliationReport, RecurringPayout

_STATE_COLOURS = {
    "requested": "#6f42c1",
    "approved": "#417690",
    "processing": "#e0a800",
    "sent": "#b8860b",
    "paid": "#28a745",
    "failed": "#c82333",
    "returned": "#a0522d",
    "cancelled": "#5a5a5a",
    "expired": "#8a8a8a",
}


def _badge(state: str, label: str):
    return format_html('<b style="color:{}">{}</b>', _STATE_COLOURS.get(state, "#000"), label)


def _each(modeladmin, request, ids, service, verb):
    run_each(modeladmin, request, ids, service, verb, noun="payout", refusals=(services.PayoutError,))


def _money(form, name: str):
    """The services' amount rule (positive, two decimals, ASCII digits), as a form error. Checked
    on what was typed: Django's DecimalField reads "١٢" as 12."""
    raw = form.data.get(form.add_prefix(name))
    try:
        return services._amount(raw if isinstance(raw, str) else form.cleaned_data[name], name)
    except services.PayoutError as exc:
        raise ValidationError(exc.message) from None


class PayeeForm(forms.ModelForm):
    account_number = forms.CharField(
        required=False,
        min_length=4,
        max_length=64,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: stored encrypted, shown as its last four digits. Leave empty to keep the current one.",
    )

    class Meta:
        model = Payee
        fields = ("user", "currency", "method", "beneficiary_name", "bic", "routing_number", "threshold", "active")

    def clean_currency(self):
        currency = self.cleaned_data["currency"].upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationError("A three-letter ISO 4217 code such as EUR.")
        if self.instance.pk and currency != self.instance.currency and self.instance.ledger.exists():
            raise ValidationError("The currency cannot change once the ledger has entries.")
        return currency

    def clean_threshold(self):
        return _money(self, "threshold")

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account_number")
        if not self.instance.pk and not account:
            self.add_error("account_number", "A new payee needs an account number.")
        bank_changed = self.instance.pk and {"bic", "routing_number"} & set(self.changed_data)
        if bank_changed and not account:
            self.add_error("account_number", "Enter the account number again with a new BIC or routing number.")
        if account and "method" in cleaned:
            try:
                self.destination = check_destination(
                    cleaned["method"],
                    account,
                    bic=cleaned.get("bic", ""),
                    routing_number=cleaned.get("routing_number", ""),
                    beneficiary_name=cleaned.get("beneficiary_name", ""),
                )
            except services.PayoutError as exc:
                self.add_error({"account": "account_number"}.get(exc.field, exc.field), exc.message)
        return cleaned


class RecentPayoutsInline(admin.TabularInline):
    model = Payout
    fk_name = "payee"
    extra = 0
    max_num = 0
    can_delete = False
    fields = ("link", "amount", "currency", "state", "provider", "created_at", "paid_at")
    readonly_fields = fields
    verbose_name_plural = "recent payouts (newest 20)"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        recent = list(queryset.order_by("-created_at").values_list("pk", flat=True)[:20])
        return queryset.filter(pk__in=recent)

    @admin.display(description="payout")
    def link(self, payout):
        return format_html('<a href="{}">#{}</a>', reverse("admin:payouts_payout_change", args=[payout.pk]), payout.pk)


@admin.register(Payee)
class PayeeAdmin(admin.ModelAdmin):
    form = PayeeForm
    list_display = ("id", "username", "balance_view", "available_view", "held", "destination", "active")
    list_filter = ("active", "currency", "method")
    search_fields = ("user__username", "user__email", "method_last4")
    search_help_text = "Username, email or the account's last four digits."
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    readonly_fields = ("balance", "held", "available_view", "destination", "recent_jobs")
    actions = ["pay_now", "preview_payouts"]

    def get_inlines(self, request, obj):
        return [RecentPayoutsInline] if obj else []

    def get_fieldsets(self, request, obj=None):
        fields = ["user", "currency", "method", "beneficiary_name", "account_number", "bic", "routing_number", "threshold", "active"]
        if obj is None:
            return ((None, {"fields": fields}),)
        return (
            (None, {"fields": fields}),
            ("Money", {"fields": ("balance", "held", "available_view", "destination")}),
            ("Jobs", {"fields": ("recent_jobs",)}),
        )

    @admin.display(description="user", ordering="user__username")
    def username(self, payee):
        return clipped(payee.user.get_username(), 28)

    @admin.display(description="balance", ordering="balance")
    def balance_view(self, payee):
        return f"{payee.balance} {payee.currency}"

    @admin.display(description="available")
    def available_view(self, payee):
        return payee.available

    @admin.display(description="recent jobs")
    def recent_jobs(self, payee):
        payout_ids = [str(pk) for pk in payee.payouts.values_list("pk", flat=True)[:200]]
        jobs = JobRecord.objects.filter(subject_type="payout", subject_id__in=payout_ids).order_by("-created_at")[:20]
        if not jobs:
            return "-"
        return format_html_join(
            "",
            '<div><a href="{}">{}</a> {} for payout {} ({})</div>',
            (
                (
                    reverse("admin:jobs_jobrecord_change", args=[j.pk]),
                    j.task_name,
                    j.state,
                    j.subject_id,
                    j.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for j in jobs
            ),
        )

    def save_model(self, request, obj, form, change):
        account = form.cleaned_data.get("account_number")
        if not change:
            try:
                created = services.payee_create(
                    obj.user,
                    currency=obj.currency,
                    account=account,
                    method=obj.method,
                    threshold=obj.threshold,
                    beneficiary_name=obj.beneficiary_name,
                    bic=form.cleaned_data.get("bic", ""),
                    routing_number=form.cleaned_data.get("routing_number", ""),
                    actor=request.user,
                )
            except services.PayoutError as exc:
                raise ValidationError(exc.message) from None
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)
            return
        try:
            services.payee_update(
                obj.pk,
                actor=request.user,
                reason="changed in the admin",
                **{name: getattr(obj, name) for name in ("currency", "method", "threshold", "active", "beneficiary_name")},
            )
        except services.PayoutError as exc:
            raise ValidationError(exc.message) from None
        if account:
            services.payee_set_account(
                obj.pk,
                account,
                bic=form.cleaned_data.get("bic", ""),
                routing_number=form.cleaned_data.get("routing_number", ""),
                actor=request.user,
                reason="changed in the admin",
            )

    def has_pay_permission(self, request):
        """Moving money: payouts.run_payouts, as for payout runs in the API."""
        return rules.has(request.user, rules.RUN_PAYOUTS)

    @admin.action(description="Pay now: one payout each for the available balance", permissions=["pay"])
    def pay_now(self, request, queryset):
        plan = services.payout_run(actor=request.user, payee_ids=list(queryset.values_list("pk", flat=True)), reason="admin action")
        self.message_user(
            request,
            f"Run {plan.run.run_key}: {len(plan.payouts)} payout(s), {plan.total} in total; {len(plan.skipped)} payee(s) skipped.",
            messages.SUCCESS,
        )

    @admin.action(description="Preview payouts (dry run, changes nothing)", permissions=["view"])
    def preview_payouts(self, request, queryset):
        plan = services.payout_run(payee_ids=list(queryset.values_list("pk", flat=True)), dry_run=True)
        context = {**self.admin_site.each_context(request), "title": "Payout preview (dry run)", "plan": plan, "opts": self.model._meta}
        return TemplateResponse(request, "admin/payouts/preview.html", context)


class PayeeAmountColumns:
    """List columns shared by the ledger and the payouts: who, how much, when."""

    @admin.display(description="payee", ordering="payee__user__username")
    def payee_name(self, obj):
        return clipped(obj.payee.user.get_username(), 24)

    @admin.display(description="amount", ordering="amount")
    def amount_view(self, obj):
        return f"{obj.amount} {obj.currency}"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return compact_time(obj.created_at)


class CreditForm(forms.ModelForm):
    class Meta:
        model = LedgerEntry
        fields = ("payee", "amount", "currency", "memo", "reference")

    def clean_amount(self):
        return _money(self, "amount")

    def clean(self):
        cleaned = super().clean()
        payee, reference = cleaned.get("payee"), (cleaned.get("reference") or "").strip()
        try:  # the service's checks, shown on their fields (the service checks again when saving)
            if payee is not None:
                services._currency(payee, cleaned.get("currency") or None)
                if reference and LedgerEntry.objects.filter(payee=payee, reference=reference).exists():
                    raise services.PayoutError("reference", f"a credit with reference {reference!r} was already posted for this payee")
        except services.PayoutError as exc:
            add_field_error(self, exc)
        return cleaned


@admin.register(LedgerEntry)
class LedgerEntryAdmin(PayeeAmountColumns, admin.ModelAdmin):
    """Append-only. "Add" posts a credit through the service; debits come from paid payouts."""

    list_display = ("created", "payee_name", "kind", "amount_view", "payout", "memo_short", "reference_short")
    list_filter = ("kind", "currency", ("created_at", admin.DateFieldListFilter))
    search_fields = ("payee__user__username", "memo", "reference")
    list_select_related = ("payee__user",)
    autocomplete_fields = ("payee",)
    fields = ("payee", "amount", "currency", "memo", "reference")

    @admin.display(description="memo")
    def memo_short(self, entry):
        return clipped(entry.memo, 30)

    @admin.display(description="reference")
    def reference_short(self, entry):
        return clipped(entry.reference, 16)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CreditForm
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["currency"].required = False
            form.base_fields["currency"].help_text = "Leave empty for the payee's currency."
        return form

    def save_model(self, request, obj, form, change):
        try:
            entry = services.ledger_credit(
                obj.payee_id, obj.amount, currency=obj.currency or None, memo=obj.memo, reference=obj.reference, actor=request.user
            )
        except services.PayoutError as exc:
            raise ValidationError(exc.message) from None
        obj.pk = entry.pk


@admin.register(Payout)
class PayoutAdmin(PayeeAmountColumns, admin.ModelAdmin):
    list_display = ("id", "payee_name", "amount_view", "state_badge", "provider", "created", "paid")
    list_filter = ("state", "provider", "currency", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=id", "payee__user__username", "=idempotency_key", "provider_reference")
    search_help_text = "Payout id, username, idempotency key or provider reference."
    list_select_related = ("payee__user", "run")
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["approve", "cancel", "retry", "run_now", "check_settlement"]
    readonly_fields = (
        "payee",
        "amount",
        "currency",
        "state_badge",
        "idempotency_key",
        "run",
        "recurring",
        "recurring_fire_at",
        "provider",
        "provider_reference",
        "provider_failures",
        "failure_reason",
        "requested_by",
        "approved_by",
        "approved_at",
        "expires_at",
        "created_at",
        "updated_at",
        "sent_at",
        "paid_at",
        "returned_at",
        "jobs",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False  # payouts are requested through the service (API, runs, recurring instructions)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state", ordering="state")
    def state_badge(self, payout):
        return _badge(payout.state, payout.get_state_display())

    @admin.display(description="paid", ordering="paid_at")
    def paid(self, payout):
        return compact_time(payout.paid_at)

    @admin.display(description="jobs")
    def jobs(self, payout):
        jobs = JobRecord.objects.filter(subject_type="payout", subject_id=str(payout.pk)).order_by("-created_at")[:20]
        return (
            format_html_join(
                "",
                '<div><a href="{}">{}</a> {} ({})</div>',
                (
                    (reverse("admin:jobs_jobrecord_change", args=[j.pk]), j.task_name, j.state, j.created_at.strftime("%Y-%m-%d %H:%M:%S"))
                    for j in jobs
                ),
            )
            or "-"
        )

    def has_approve_permission(self, request):
        return rules.has(request.user, rules.APPROVE_PAYOUT)

    def has_run_permission(self, request):
        return rules.has(request.user, rules.RUN_PAYOUTS)

    @admin.action(description="Approve", permissions=["approve"])
    def approve(self, request, queryset):
        _each(self, request, queryset.values_list("pk", flat=True), services.payout_approve, "approved")

    @admin.action(description="Cancel (releases the hold)", permissions=["change"])
    def cancel(self, request, queryset):
        _each(self, request, queryset.values_list("pk", flat=True), services.payout_cancel, "cancelled")

    @admin.action(description="Retry failed payouts", permissions=["run"])
    def retry(self, request, queryset):
        _each(self, request, queryset.values_list("pk", flat=True), services.payout_retry, "sent again")

    @admin.action(description="Run now (make sure a job is on its way)", permissions=["run"])
    def run_now(self, request, queryset):
        _each(self, request, queryset.values_list("pk", flat=True), services.payout_process_now, "queued")

    @admin.action(description="Ask the provider about sent payouts now", permissions=["run"])
    def check_settlement(self, request, queryset):
        _each(self, request, queryset.values_list("pk", flat=True), services.payout_check_settlement, "checked")


class RunPayoutsInline(RecentPayoutsInline):
    fk_name = "run"
    verbose_name_plural = "payouts (first 20)"


@admin.register(PayoutRun)
class PayoutRunAdmin(admin.ModelAdmin):
    list_display = (
        "run_key",
        "trigger",
        "status",
        "started_by",
        "payees_considered",
        "payouts_created",
        "total",
        "paid",
        "failed",
        "created_at",
    )
    list_filter = ("trigger", "status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("run_key",)
    readonly_fields = (
        "run_key",
        "trigger",
        "started_by",
        "status",
        "payees_considered",
        "payouts_created",
        "total",
        "created_at",
        "finished_at",
    )
    fields = readonly_fields
    inlines = [RunPayoutsInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="paid")
    def paid(self, run):
        return run.payouts.filter(state=Payout.State.PAID).count()

    @admin.display(description="failed")
    def failed(self, run):
        return run.payouts.filter(state=Payout.State.FAILED).count()


class RecurringPayoutForm(forms.ModelForm):
    class Meta:
        model = RecurringPayout
        fields = ("payee", "amount", "cron", "interval_seconds", "timezone", "enabled")

    def clean_amount(self):
        return _money(self, "amount")

    def clean(self):
        cleaned = super().clean()
        for name, message in timing_errors(cleaned.get("cron", ""), cleaned.get("interval_seconds"), cleaned.get("timezone", "")).items():
            self.add_error(name if name in self.fields else None, message)
        return cleaned


@admin.register(RecurringPayout)
class RecurringPayoutAdmin(admin.ModelAdmin):
    form = RecurringPayoutForm
    list_display = ("id", "payee", "amount", "cron", "interval_seconds", "timezone", "enabled", "next_run_at")
    list_filter = ("enabled",)
    search_fields = ("payee__user__username",)
    autocomplete_fields = ("payee",)
    readonly_fields = ("next_run_at",)

    def save_model(self, request, obj, form, change):
        if change and {"cron", "interval_seconds", "timezone"} & set(form.changed_data):
            obj.next_run_at = None  # recomputed from the new timing
        try:
            services.recurring_save(obj, actor=request.user)
        except services.PayoutError as exc:
            raise ValidationError(exc.message) from None


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "checked_payouts", "checked_transfers", "mismatch_count", "reviewed")
    list_filter = ("reviewed",)
    fields = ("created_at", "checked_payouts", "checked_transfers", "mismatch_count", "mismatch_table", "reviewed")
    readonly_fields = ("created_at", "checked_payouts", "checked_transfers", "mismatch_count", "mismatch_table")
    actions = ["run_reconciliation"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="mismatches")
    def mismatch_table(self, report):
        if not report.mismatches:
            return "None: the ledger and the providers agree."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    m.get("kind"),
                    m.get("payout", ""),
                    m.get("payee", ""),
                    m.get("provider", ""),
                    f"{m.get('amount', '')} {m.get('currency', '')}".strip(),
                    m.get("detail", ""),
                )
                for m in report.mismatches
            ),
        )
        return format_html(
            "<table><tr><th>kind</th><th>payout</th><th>payee</th><th>provider</th><th>amount</th><th>detail</th></tr>{}</table>", rows
        )

    def changelist_view(self, request, extra_context=None):
        # "Run a reconciliation now" needs no selection (there may be no report yet).
        if (
            request.method == "POST"
            and request.POST.get("action") == "run_reconciliation"
            and not request.POST.getlist(ACTION_CHECKBOX_NAME)
        ):
            post = request.POST.copy()
            post.setlist(ACTION_CHECKBOX_NAME, ["0"])
            request.POST = post
        return super().changelist_view(request, extra_context)

    @admin.action(description="Run a reconciliation now", permissions=["change"])
    def run_reconciliation(self, request, queryset):
        report = reconciliation.reconcile(actor=request.user)
        level = messages.WARNING if report.mismatch_count else messages.SUCCESS
        self.message_user(request, f"Reconciliation done: {report.mismatch_count} mismatch(es) in {report.checked_payouts} payouts.", level)
