"""Reports and exports: files produced by jobs, with their parameters, progress and owner."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from jobs.core.states import StateMachine
from jobs.fields import SafeJSONDecoder
from jobs.models import JobBacked


class Report(JobBacked):
    class Kind(models.TextChoices):
        PAYOUT_SUMMARY = "payout_summary", "Payout summary for a period"
        DAILY_OPERATIONS = "daily_operations", "Daily operations report"
        PAYEE_STATEMENT = "payee_statement", "Payee statement"
        EXPORT = "export", "Export"

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (file deleted)"

    # Running again is allowed: a rescued or retried job starts the report over.
    STATES = StateMachine(
        "report",
        {
            State.REQUESTED: {State.RUNNING, State.FAILED},
            State.RUNNING: {State.RUNNING, State.DONE, State.FAILED},
            State.FAILED: {State.RUNNING, State.FAILED},
            State.DONE: {State.EXPIRED},
            State.EXPIRED: set(),
        },
    )

    kind = models.CharField(max_length=32, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True, decoder=SafeJSONDecoder)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED, db_index=True)
    progress_message = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True, max_length=255)
    file_name = models.CharField(max_length=255, blank=True, help_text="The name the download gets.")
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"


class UserFigures(models.Model):
    """Each user's figures, recomputed by the hourly per-user analytics job, so the admin and the
    API read them without heavy queries. Overwritten on every run: safe to run twice."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="figures")
    currency = models.CharField(max_length=3, blank=True)
    balance = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    available = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    earnings_30d = models.DecimalField(max_digits=18, decimal_places=2, default=0, help_text="Credits in the last 30 days.")
    payouts_paid = models.PositiveIntegerField(default=0)
    paid_total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    payouts_in_flight = models.PositiveIntegerField(default=0)
    jobs_last_24h = models.PositiveIntegerField(default=0)
    last_activity = models.DateTimeField(null=True, blank=True, help_text="Last login, credit or payout.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "user figures"

    def __str__(self) -> str:
        return f"figures of user {self.user_id}"


class Import(JobBacked):
    """An uploaded CSV or XLSX of payees or ledger credits, applied row by row by a job."""

    class Kind(models.TextChoices):
        PAYEES = "payees", "Payees"
        LEDGER = "ledger", "Ledger credits"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    STATES = StateMachine(
        "import",
        {
            State.PENDING: {State.RUNNING, State.FAILED},
            State.RUNNING: {State.RUNNING, State.DONE, State.FAILED},
            State.FAILED: {State.RUNNING, State.FAILED},
            State.DONE: set(),
        },
    )

    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(
        upload_to="imports/%Y/%m/",
        max_length=255,
        blank=True,
        help_text="The uploaded file, encrypted; deleted IMPORT_FILE_RETENTION seconds after the import finished.",
    )
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, decoder=SafeJSONDecoder, help_text="Row, field and message of each failed row (the first 1,000)."
    )
    error = models.TextField(blank=True, help_text="Why the whole import failed, if it did.")
    file_deleted_at = models.DateTimeField(null=True, blank=True, help_text="When the retention rule deleted the uploaded file.")

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("import_payees", "Can import payees (creates accounts and changes bank details)"),
            ("import_ledger", "Can import ledger credits (adds money to balances)"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import #{self.pk} ({self.state})"
