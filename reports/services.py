"""Per-user analytics (the seeds' hourly processUserData), on the job core."""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from audit.services import audit
from jobs.core import inputs
from jobs.core.errors import FieldError
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue_for, enqueue_many
from payouts.models import LedgerEntry, Payee, Payout
from payouts.services import IN_FLIGHT
from reports import builders, exports
from reports.models import Report, UserFigures


def analytics_fan_out(user_ids=None, *, created_by=None) -> dict:
    """One `analytics.user` job per active user (or per given id), in one bulk insert and one
    pipelined dispatch. A user whose previous job is still waiting or running gets no second one
    (the task's dedup key "user analytics for user N")."""
    users = get_user_model().objects.filter(is_active=True)
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    ids = list(users.order_by("pk").values_list("pk", flat=True))
    jobs = enqueue_many([JobSpec("analytics.user", [uid], subject=("user", uid)) for uid in ids], created_by=created_by)
    duplicates = sum(1 for job in jobs if getattr(job, "deduplicated", False))
    return {"users": len(ids), "enqueued": len(jobs) - duplicates, "already_waiting": duplicates}


def user_figures(user_id: int) -> dict:
    """Compute and store one user's figures (UserFigures); returns them. Idempotent."""
    user = get_user_model().objects.filter(pk=user_id).values("last_login").first()
    if user is None:
        return {"user": user_id, "missing": True}
    now = timezone.now()
    figures = {"currency": "", "balance": 0, "available": 0, "earnings_30d": 0, "payouts_paid": 0, "paid_total": 0, "payouts_in_flight": 0}
    moments = [user["last_login"]]
    payee = Payee.objects.filter(user_id=user_id).first()
    if payee is not None:
        credits = LedgerEntry.objects.filter(payee=payee, kind=LedgerEntry.Kind.CREDIT)
        paid = Payout.objects.filter(payee=payee, state=Payout.State.PAID).aggregate(
            n=Count("id"), total=Sum("amount"), last=Max("paid_at")
        )
        figures.update(
            currency=payee.currency,
            balance=payee.balance,
            available=payee.available,
            earnings_30d=credits.filter(created_at__gte=now - timedelta(days=30)).aggregate(s=Sum("amount"))["s"] or 0,
            payouts_paid=paid["n"],
            paid_total=paid["total"] or 0,
            payouts_in_flight=Payout.objects.filter(payee=payee, state__in=IN_FLIGHT).count(),
        )
        moments += [credits.aggregate(m=Max("created_at"))["m"], Payout.objects.filter(payee=payee).aggregate(m=Max("created_at"))["m"]]
    figures["jobs_last_24h"] = JobRecord.objects.filter(
        subject_type="user", subject_id=str(user_id), created_at__gte=now - timedelta(hours=24)
    ).count()
    figures["last_activity"] = max((m for m in moments if m), default=None)
    UserFigures.objects.update_or_create(user_id=user_id, defaults={**figures, "computed_at": now})
    return {"user": user_id, **{k: (str(v) if not isinstance(v, (int, type(None))) else v) for k, v in figures.items()}}


# --- Reports and exports -------------------------------------------------------

REPORT_QUEUES = {"daily_operations": "daily_reports", "export": "exports"}


def report_request(kind: str, parameters: dict | None = None, *, requested_by=None) -> Report:  # noqa: F821
    """Validate, record and enqueue a report or export. Raises ReportError naming the bad field."""
    parameters = parameters or {}
    if not isinstance(parameters, dict):
        raise exports.ReportError("parameters", "must be an object")
    try:
        inputs.check_json(parameters, "parameters")
    except FieldError as exc:
        raise exports.ReportError(exc.field, exc.message) from None
    if kind not in Report.Kind.values:
        raise exports.ReportError("kind", f"must be one of {', '.join(Report.Kind.values)}")
    clean = exports.validate_export(parameters) if kind == Report.Kind.EXPORT else builders.validate(kind, parameters)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    with transaction.atomic():
        report = Report.objects.create(kind=kind, parameters=clean, requested_by=user)
        enqueue_for(report, "reports.generate", [report.pk], queue=REPORT_QUEUES.get(kind, "reports"), created_by=user)
        audit(requested_by, "report.request", "report", report.pk, kind=kind, parameters=clean)
    return report


def daily_report_for(day: str, *, job_id) -> Report:
    """The day's daily operations report row, created once (a failed one is replaced by a new
    row, so its error stays visible), and tied to the job now producing it."""
    with transaction.atomic():
        report = Report.objects.filter(kind=Report.Kind.DAILY_OPERATIONS, parameters__date=day).exclude(state=Report.State.FAILED).first()
        if report is None:
            report = Report.objects.create(kind=Report.Kind.DAILY_OPERATIONS, parameters={"date": day})
        Report.objects.filter(pk=report.pk).update(job_id=job_id)
    return report


def report_generate(report_id: int, progress=lambda percent, message="": None) -> dict:
    """Produce the report's file. Safe to run again: a done report is left alone, a failed or
    interrupted one starts over. Progress: 10 started, 50 data gathered (exports: 10..90 as rows
    are written), 90 file written, 100 stored."""
    report = Report.objects.filter(pk=report_id).first()
    if report is None or not Report.STATES.move(
        Report.objects.filter(pk=report_id),
        Report.STATES.sources_of(Report.State.RUNNING),
        Report.State.RUNNING,
        started_at=timezone.now(),
        error="",
        progress=0,
    ):
        report = Report.objects.filter(pk=report_id).first()  # done or expired: left alone
        return {"report": report_id, "state": report.state if report else "missing"}

    def step(percent: int, message: str) -> None:
        Report.objects.filter(pk=report.pk).update(progress=percent, progress_message=message[:255])
        progress(percent, message)

    step(10, "started")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if report.kind == Report.Kind.EXPORT:
        fmt = report.parameters["format"]
        content_type, extension = exports.FORMATS[fmt]
        name = f"{report.parameters['dataset']}-export-{stamp}-{report.pk}.{extension}"
        headers, total, rows = exports.export_rows(report.parameters)
        step(15, f"exporting {total} rows")
        on_row = lambda n: step(15 + int(75 * n / max(total, 1)), f"{n} of {total} rows")  # noqa: E731
    else:
        content_type, fmt = "text/csv", "csv"
        name = f"{report.kind.replace('_', '-')}-{stamp}-{report.pk}.csv"
        steps = builders.BUILDERS[report.kind](report.parameters)
        next(steps)  # parameters checked, queries running
        headers, rows = next(steps)
        step(50, "data gathered")
        on_row = None
    handle, path = tempfile.mkstemp(prefix="conveyor-report-", suffix="." + fmt)
    os.close(handle)
    try:
        count = exports.write(fmt, path, headers, rows, on_row)
        step(90, "file written")
        with open(path, "rb") as fh:
            report.file.save(name, File(fh), save=False)
        size = os.path.getsize(path)
    finally:
        os.unlink(path)
    now = timezone.now()
    Report.STATES.move(
        Report.objects.filter(pk=report.pk),
        {Report.State.RUNNING},
        Report.State.DONE,
        file=report.file.name,
        file_name=name,
        content_type=content_type,
        size=size,
        row_count=count,
        finished_at=now,
        expires_at=now + timedelta(seconds=settings.REPORT_RETENTION),
        progress=100,
        progress_message="done",
    )
    progress(100, "done")
    return {"report": report.pk, "rows": count, "bytes": size, "file": name}


def report_failed(report_id: int, error: str) -> None:
    Report.STATES.move(
        Report.objects.filter(pk=report_id),
        Report.STATES.sources_of(Report.State.FAILED),
        Report.State.FAILED,
        error=error[:2000],
        finished_at=timezone.now(),
    )


def report_expire_files(now=None) -> int:
    """Delete the files of reports past their retention; the rows stay, marked expired."""
    now = now or timezone.now()
    expired = 0
    for report in Report.objects.filter(state=Report.State.DONE, expires_at__lte=now).iterator():
        if report.file:
            report.file.delete(save=False)
        Report.STATES.move(Report.objects.filter(pk=report.pk), {Report.State.DONE}, Report.State.EXPIRED, file="")
        expired += 1
    return expired
