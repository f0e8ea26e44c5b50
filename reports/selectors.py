"""Reads for reports, and who may see or ask for which (access.rules)."""

from __future__ import annotations

from access import rules
from jobs.core import inputs
from jobs.core.errors import FieldError
from payouts.models import Payee
from reports.models import Import, Report

VIEW_REPORTS = "reports.view_report"
VIEW_IMPORTS = "reports.view_import"
# A report shows data; asking for one takes reports.add_report and the view permission of that data.
REPORT_DATA = {
    "payout_summary": ("payouts.view_payout",),
    "daily_operations": ("jobs.view_jobrecord", "payouts.view_payout"),
    "payee_statement": ("payouts.view_ledgerentry",),
}
EXPORT_DATA = {
    "payees": "payouts.view_payee",
    "ledger": "payouts.view_ledgerentry",
    "payouts": "payouts.view_payout",
    "jobs": "jobs.view_jobrecord",
}
IMPORT_PERMISSIONS = {"payees": rules.IMPORT_PAYEES, "ledger": rules.IMPORT_LEDGER}


def _own_payee(user, payee) -> bool:
    try:
        payee_id = inputs.parse_id(payee, "payee")
    except FieldError:
        return False
    return Payee.objects.filter(pk=payee_id, user=user).exists()


def report_permissions(kind: str, parameters) -> tuple[str, ...]:
    parameters = parameters if isinstance(parameters, dict) else {}
    if kind == "export":
        extra = (EXPORT_DATA[parameters.get("dataset")],) if parameters.get("dataset") in EXPORT_DATA else ()
    else:
        extra = REPORT_DATA.get(kind, ())
    return ("reports.add_report", *extra)


def refusal_to_request(user, kind: str, parameters) -> str | None:
    """Why ``user`` may not ask for this report, or None. Anyone may ask for statements of their
    own payee account; everything else needs report_permissions(kind, parameters). Decided
    before the parameters are checked, so a refusal says nothing about what exists."""
    if kind == "payee_statement" and isinstance(parameters, dict) and _own_payee(user, parameters.get("payee")):
        return None
    perms = report_permissions(kind, parameters)
    return None if rules.has(user, *perms) else rules.needs(*perms)


def visible_reports(user):
    reports = Report.objects.all()
    return reports if rules.has(user, VIEW_REPORTS) else reports.filter(requested_by=user)


def visible_imports(user):
    imports = Import.objects.all()
    return imports if rules.has(user, VIEW_IMPORTS) else imports.filter(requested_by=user)


def can_download(user, report) -> bool:
    """Holders of reports.view_report see every report; anyone else only what they asked for,
    and a payee their own statements."""
    if not getattr(user, "is_authenticated", False):
        return False
    if rules.has(user, VIEW_REPORTS):
        return True
    if report.requested_by_id == user.pk:
        return True
    return report.kind == "payee_statement" and _own_payee(user, report.parameters.get("payee"))
