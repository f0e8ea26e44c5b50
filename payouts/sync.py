"""Data synchronisation: payee status from an external system, through an adapter.

A source yields ``StatusRecord(username, active, detail)``; the sync applies what differs,
audits each change and returns a summary. PAYEE_STATUS_SOURCE names the adapter class; the
default, ``SandboxBankDirectory``, stands in for a bank's account directory: it reports
accounts starting with "0000" as closed (the same accounts the sandbox provider declines).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from audit.services import audit
from payouts.models import Payee


@dataclass(frozen=True)
class StatusRecord:
    username: str
    active: bool
    detail: str = ""


class SandboxBankDirectory:
    def statuses(self) -> Iterable[StatusRecord]:
        for payee in Payee.objects.select_related("user").order_by("pk").iterator():
            closed = payee.account().startswith("0000")
            yield StatusRecord(payee.user.get_username(), not closed, "account closed at the bank" if closed else "account open")


def sync_payee_status(progress=lambda percent, message="": None) -> dict:
    source = import_string(settings.PAYEE_STATUS_SOURCE)()
    records = list(source.statuses())
    summary = {"records": len(records), "activated": 0, "deactivated": 0, "unchanged": 0, "unknown": 0, "changes": []}
    for n, record in enumerate(records, 1):
        with transaction.atomic():
            payee = Payee.objects.select_for_update().filter(user__username=record.username).first()
            if payee is None:
                summary["unknown"] += 1
            elif payee.active == record.active:
                summary["unchanged"] += 1
            else:
                Payee.objects.filter(pk=payee.pk).update(active=record.active)
                summary["activated" if record.active else "deactivated"] += 1
                if len(summary["changes"]) < 100:
                    summary["changes"].append(
                        {"payee": payee.pk, "username": record.username, "active": record.active, "detail": record.detail}
                    )
                audit(
                    "system:sync",
                    "payee.activate" if record.active else "payee.deactivate",
                    "payee",
                    payee.pk,
                    record.detail,
                    source=settings.PAYEE_STATUS_SOURCE,
                )
        if n % 200 == 0 or n == len(records):
            progress(int(100 * n / len(records)), f"{n} of {len(records)} records")
    return summary
