#!/usr/bin/env python
"""`make bench` (part 3): payouts per second for a run of 10,000 payees.

Each payout is a real job: lock, provider call with its idempotency key (the sandbox,
which writes its own transfer record), then the debit, the ledger entry and the notice
job in one transaction. Measured with the sandbox at zero latency (the platform's own
cost) and at 50 ms (a provider-bound run: the ceiling is workers / latency). Isolated
from development data (bench/common.py). BENCH_PAYEES changes the count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup  # noqa: E402

PAYEES = int(os.environ.get("BENCH_PAYEES", "10000"))
WORKERS = 4


def main() -> None:
    env = setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from jobs.models import WorkerHeartbeat
    from payouts import vault
    from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, SandboxTransfer
    from payouts.services import payout_run

    def wipe():
        reset()
        SandboxTransfer.objects.all().delete()
        LedgerEntry.objects.all().delete()
        Payout.objects.all().delete()
        PayoutRun.objects.all().delete()
        Payee.objects.all().delete()
        get_user_model().objects.filter(username__startswith="bench-payee-").delete()

    def make_payees():
        User = get_user_model()
        User.objects.bulk_create([User(username=f"bench-payee-{i}", password="!") for i in range(PAYEES)], batch_size=2000)
        users = User.objects.filter(username__startswith="bench-payee-")
        token = vault.encrypt("NL91ABNA0417164300")
        Payee.objects.bulk_create(
            [Payee(user=u, currency="EUR", method_secret=token, method_last4="4300", balance=Decimal("25.00")) for u in users],
            batch_size=2000,
        )
        LedgerEntry.objects.bulk_create(
            [LedgerEntry(payee=p, kind="credit", amount=Decimal("25.00"), currency="EUR", memo="bench") for p in Payee.objects.all()],
            batch_size=2000,
        )

    def run(latency: float) -> dict:
        wipe()
        make_payees()
        started = time.perf_counter()
        plan = payout_run(run_key=f"bench-{latency}")
        created = time.perf_counter() - started
        assert len(plan.payouts) == PAYEES, len(plan.payouts)
        worker_env = {**env, "SANDBOX_LATENCY": str(latency), "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        procs = [
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "payouts", "--verbosity", "0"],
                cwd=ROOT,
                env=worker_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(WORKERS)
        ]
        try:
            while WorkerHeartbeat.objects.count() < WORKERS:
                time.sleep(0.05)
            began = time.perf_counter()
            while Payout.objects.filter(state=Payout.State.PAID).count() < PAYEES:
                time.sleep(0.25)
            elapsed = time.perf_counter() - began
        finally:
            for p in procs:
                p.kill()
            for p in procs:
                p.wait()
        assert SandboxTransfer.objects.count() == PAYEES
        result = {
            "payees": PAYEES,
            "workers": WORKERS,
            "provider_latency_s": latency,
            "run_creation_s": round(created, 2),
            "processing_s": round(elapsed, 2),
            "payouts_per_s": round(PAYEES / elapsed, 1),
        }
        if latency:
            ceiling = WORKERS / latency
            result.update({"provider_bound_ceiling_per_s": round(ceiling, 1), "share_of_ceiling": round(PAYEES / elapsed / ceiling, 2)})
        return result

    results = {"zero_latency": run(0.0), "latency_50ms": run(0.05)}
    wipe()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        **results,
    }
    out = ROOT / "bench" / "results" / f"payouts-{connection.vendor}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
