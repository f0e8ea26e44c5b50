#!/usr/bin/env python
"""`make bench` (part 5): importing 10,000 rows: payees, then ledger credits, then the same
credits again (all skipped by reference), each row validated and applied in its own
transaction, as the import job does. Isolated from development data (bench/common.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import reset, setup  # noqa: E402

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))


def main() -> None:
    setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from schwifty import IBAN

    from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, SandboxTransfer
    from reports.imports import import_request, import_run
    from reports.models import Import

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="conveyor-bench-media-")

    def wipe():
        reset()
        Import.objects.all().delete()
        SandboxTransfer.objects.all().delete()
        LedgerEntry.objects.all().delete()
        Payout.objects.all().delete()
        PayoutRun.objects.all().delete()
        Payee.objects.all().delete()
        get_user_model().objects.filter(username__startswith="bench-import-").delete()

    def timed(kind: str, name: str, text: str) -> dict:
        record = import_request(kind, SimpleUploadedFile(name, text.encode()))
        started = time.perf_counter()
        outcome = import_run(record.pk)
        elapsed = time.perf_counter() - started
        return {
            "rows": ROWS,
            "seconds": round(elapsed, 2),
            "rows_per_s": round(ROWS / elapsed),
            **{k: outcome[k] for k in ("created", "updated", "skipped", "failed")},
        }

    wipe()
    # Valid IBANs (payee details are checked on entry): 100 distinct ones, reused.
    ibans = [str(IBAN.generate("NL", bank_code="ABNA", account_code=f"04171643{n:02d}")) for n in range(100)]
    payees = "username,currency,account\n" + "".join(f"bench-import-{i},EUR,{ibans[i % 100]}\n" for i in range(ROWS))
    credits = "username,amount,reference,memo\n" + "".join(
        f"bench-import-{i % ROWS},{(i % 50) + 1}.25,import-{i},bench credit\n" for i in range(ROWS)
    )
    results = {
        "payees": timed("payees", "payees.csv", payees),
        "ledger_credits": timed("ledger", "credits.csv", credits),
        "ledger_credits_again": timed("ledger", "credits.csv", credits),
    }
    assert results["ledger_credits_again"]["skipped"] == ROWS
    wipe()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        **results,
    }
    out = ROOT / "bench" / "results" / f"imports-{connection.vendor}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
