"""Payees, their ledger, payouts and payout runs.

Money rules the database enforces on its own (so no code path can break them):

* a payee's ``balance`` (credits minus paid payouts) and ``held`` (payouts on
  their way) never go negative, and ``held`` never exceeds ``balance``;
* a payout is debited once: one ledger debit per payout (unique);
* one payout per payee per run, and one per recurring instruction per fire time;
* every payout carries a unique idempotency key, which is what the provider sees,
  so a repeated call can never become a second transfer.

``balance`` and ``held`` are kept on the payee row, changed only under its row
lock in the same transaction as the ledger entry or payout state they follow;
``payouts.selectors.ledger_mismatches`` recomputes them from the ledger.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from jobs.core.states import StateMachine
from payouts import vault

MONEY = {"max_digits": 18, "decimal_places": 2}


class Payee(models.Model):
    class Method(models.TextChoices):
        BANK = "bank", "Bank account"
        WALLET = "wallet", "Wallet"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payee")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code; every credit and payout of this payee uses it.")
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.BANK)

    class Scheme(models.TextChoices):
        IBAN = "iban", "IBAN"
        US_ABA = "us_aba", "US account and routing number"
        OTHER = "other", "Account number (sandbox providers only)"
        WALLET = "wallet", "Wallet id"

    # The account number, IBAN or wallet id is stored encrypted and never shown whole; what
    # identifies the bank (BIC, routing number) and the holder's name are not secret.
    method_secret = models.TextField(blank=True, editable=False)
    method_last4 = models.CharField(max_length=4, blank=True, editable=False)
    account_scheme = models.CharField(max_length=8, choices=Scheme.choices, default=Scheme.OTHER, editable=False)
    beneficiary_name = models.CharField(max_length=70, blank=True, help_text="The account holder's name, as the bank knows it.")
    # Set through the payee services with the account (payouts.destinations checks them).
    bic = models.CharField("BIC", max_length=11, blank=True, help_text="With an IBAN; found from the IBAN when left empty.")
    routing_number = models.CharField(max_length=9, blank=True, help_text="A US account's 9-digit ABA routing number.")
    threshold = models.DecimalField(
        **MONEY, default=Decimal("10.00"), help_text="The daily run pays a payee whose available balance reaches this."
    )
    active = models.BooleanField(default=True)
    balance = models.DecimalField(**MONEY, default=Decimal("0"), editable=False)
    held = models.DecimalField(**MONEY, default=Decimal("0"), editable=False, help_text="Reserved by payouts on their way.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="payee_balance_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="payee_held_not_negative"),
            models.CheckConstraint(condition=Q(held__lte=F("balance")), name="payee_held_within_balance"),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.currency})"

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def destination(self) -> str:
        """What staff, logs and the API see of the payout method."""
        if not self.method_last4:
            return "not set"
        kind = {self.Scheme.IBAN: "IBAN", self.Scheme.US_ABA: "US account"}.get(self.account_scheme, self.get_method_display())
        return f"{kind} ••••{self.method_last4}"

    def set_account(self, number: str, *, scheme: str = Scheme.OTHER, bic: str = "", routing_number: str = "") -> None:
        """Store a checked destination (payouts.destinations.check_destination)."""
        self.method_secret = vault.encrypt(number)
        self.method_last4 = number[-4:]
        self.account_scheme, self.bic, self.routing_number = scheme, bic, routing_number

    def account(self) -> str:
        """The whole account number: for the provider call only."""
        return vault.decrypt(self.method_secret) if self.method_secret else ""


class LedgerEntry(models.Model):
    """Append-only: a credit adds to the balance; a debit is a paid payout."""

    class Kind(models.TextChoices):
        CREDIT = "credit", "Credit"
        DEBIT = "debit", "Debit (paid payout)"

    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    payout = models.OneToOneField("Payout", null=True, blank=True, on_delete=models.PROTECT, related_name="debit")
    memo = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="The caller's id for a credit; a repeat is refused.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind="credit", payout__isnull=True) | Q(kind="debit", payout__isnull=False), name="ledger_debit_is_a_payout"
            ),
            models.UniqueConstraint(fields=["payee", "reference"], condition=~Q(reference=""), name="ledger_reference_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.payee_id})"


class PayoutRun(models.Model):
    """A batch of payouts: the daily run, or a manual "pay now"."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"

    class Status(models.TextChoices):
        CREATED = "created", "Payouts created"
        FINISHED = "finished", "Finished"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run_key = models.CharField(max_length=100, unique=True, help_text="One run per key: the daily run's is its date.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    payees_considered = models.PositiveIntegerField(default=0)
    payouts_created = models.PositiveIntegerField(default=0)
    total = models.DecimalField(**MONEY, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run {self.run_key}"


class RecurringPayout(models.Model):
    """A payee's standing instruction: pay ``amount`` on a cron schedule or fixed interval."""

    payee = models.ForeignKey(Payee, on_delete=models.CASCADE, related_name="recurring")
    amount = models.DecimalField(**MONEY)
    cron = models.CharField(max_length=100, blank=True, help_text="Cron expression, e.g. '0 9 * * 1' (Mondays 09:00).")
    interval_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Or a fixed interval.")
    timezone = models.CharField(max_length=64, default="UTC")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="recurring_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} to {self.payee_id} ({self.cron or f'every {self.interval_seconds}s'})"


class Payout(models.Model):
    class State(models.TextChoices):
        REQUESTED = "requested", "Requested (awaiting approval)"
        APPROVED = "approved", "Approved"
        PROCESSING = "processing", "Processing"
        SENT = "sent", "Sent (awaiting the provider's confirmation)"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        RETURNED = "returned", "Returned (by the bank, after it was paid)"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    # The only moves any code makes (payouts.services._move).
    STATES = StateMachine(
        "payout",
        {
            State.REQUESTED: {State.APPROVED, State.CANCELLED, State.EXPIRED},
            # approved -> failed: its job died before taking it (settle; no provider was asked).
            State.APPROVED: {State.PROCESSING, State.CANCELLED, State.FAILED},
            # A provider that settles later (Wise) takes the transfer first: sent. The money is
            # final only when the provider says paid; a bank may still return it after that.
            State.PROCESSING: {State.SENT, State.PAID, State.FAILED},
            State.SENT: {State.PAID, State.FAILED},
            State.FAILED: {State.APPROVED},  # staff retry
            State.PAID: {State.RETURNED},
            State.RETURNED: set(),
            State.CANCELLED: set(),
            State.EXPIRED: set(),
        },
    )

    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=16, choices=State.choices, db_index=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    run = models.ForeignKey(PayoutRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="payouts")
    recurring = models.ForeignKey(RecurringPayout, null=True, blank=True, on_delete=models.SET_NULL, related_name="payouts")
    recurring_fire_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=32, blank=True, help_text="The provider this payout is (or was) sent through.")
    provider_reference = models.CharField(max_length=100, blank=True)
    provider_failures = models.PositiveIntegerField(default=0, help_text="Failed calls to the current provider.")
    failure_reason = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the provider took the transfer (paid later).")
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("request_payout", "Can request payouts from any payee's balance"),
            ("approve_payout", "Can approve payouts that wait for approval"),
            ("run_payouts", "Can start payout runs, pay now and send failed payouts again"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.UniqueConstraint(fields=["run", "payee"], name="payout_once_per_payee_per_run"),
            models.UniqueConstraint(fields=["recurring", "recurring_fire_at"], name="payout_once_per_recurring_fire"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk}: {self.amount} {self.currency} ({self.state})"


class ReconciliationReport(models.Model):
    """One comparison of the ledger with the providers' records, and what did not match."""

    created_at = models.DateTimeField(auto_now_add=True)
    checked_payouts = models.PositiveIntegerField(default=0)
    checked_transfers = models.PositiveIntegerField(default=0)
    mismatch_count = models.PositiveIntegerField(default=0)
    mismatches = models.JSONField(default=list, blank=True)
    reviewed = models.BooleanField(default=False, help_text="Tick once staff have dealt with the mismatches.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reconciliation {self.created_at:%Y-%m-%d %H:%M} ({self.mismatch_count} mismatches)"


class SandboxTransfer(models.Model):
    """The sandbox providers' own books: what a real provider would hold on its side. Kept in
    this database for convenience, written outside the payout's transaction like a real call."""

    provider = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=64)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    destination = models.CharField(max_length=64, help_text="Masked.")
    reference = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "idempotency_key"], name="sandbox_transfer_once_per_key")]

    def __str__(self) -> str:
        return f"{self.provider} {self.reference}: {self.amount} {self.currency}"
