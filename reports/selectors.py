"""Reads for reports."""
from __future__ import annotations


def can_download(user, report) -> bool:
    """Staff with the view permission see every report; anyone else only what they asked for,
    and a payee their own statements."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff and user.has_perm("reports.view_report"):
        return True
    if report.requested_by_id == user.pk:
        return True
    if report.kind == "payee_statement":
        from payouts.models import Payee

        return Payee.objects.filter(pk=report.parameters.get("payee"), user=user).exists()
    return False
