#!/usr/bin/env python
"""`make bench` (part 4): exporting 100,000 ledger entries as CSV, XLSX and JSON.

Runs each export the way a worker does (reports.services.report_generate), in a fresh process,
sampling its resident memory every 10 ms: the growth over the baseline must stay under
50 MB, whatever the row count (rows are streamed from the database to a file).
Isolated from development data (bench/common.py). BENCH_EXPORT_ROWS changes the count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup  # noqa: E402

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "100000"))


class PeakRSS:
    def __init__(self):
        import psutil

        self.process, self.peak, self._stop = psutil.Process(), 0, threading.Event()

    def __enter__(self):
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return round((self.peak - self.base) / 2**20, 1)


def main() -> None:
    setup()
    from decimal import Decimal

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from payouts import services as payouts
    from payouts.models import LedgerEntry, Payee
    from reports.models import Report
    from reports.services import report_request

    settings.MEDIA_ROOT = os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="conveyor-bench-media-")
    User = get_user_model()
    user, _ = User.objects.get_or_create(username="bench-exporter")
    payee = Payee.objects.filter(user=user).first() or payouts.payee_create(user, currency="EUR", account="NL91ABNA0417164300")
    LedgerEntry.objects.filter(payee=payee).delete()
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(payee=payee, kind="credit", amount=Decimal("1.25"), currency="EUR", memo=f"bench credit {i}") for i in range(ROWS)],
        batch_size=5000,
    )
    results = {}
    for fmt in ("csv", "xlsx", "json"):
        report = report_request("export", {"dataset": "ledger", "format": fmt, "filters": {"payee": payee.pk}})
        # A fresh process per export, as a worker would be: its memory has not held the rows created above.
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(report.pk)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "MEDIA_ROOT": settings.MEDIA_ROOT},
            check=True,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        assert measured["rows"] == ROWS, measured
        results[fmt] = {
            "rows": ROWS,
            "seconds": measured["seconds"],
            "rows_per_s": round(ROWS / measured["seconds"]),
            "file_mb": round(measured["bytes"] / 2**20, 1),
            "worker_rss_before_mb": measured["rss_before_mb"],
            "rss_growth_mb": measured["rss_growth_mb"],
            "limit_mb": 50,
        }
        Report.objects.get(pk=report.pk).file.delete(save=False)
        Report.objects.filter(pk=report.pk).delete()
    LedgerEntry.objects.filter(payee=payee).delete()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "database": connection.vendor,
        "export_ledger": results,
    }
    out = ROOT / "bench" / "results" / f"exports-{connection.vendor}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


def child(report_id: int) -> None:
    """Generate one export in this fresh process and print its time and memory growth."""
    import django

    django.setup()
    from reports.services import report_generate

    with PeakRSS() as rss:
        started = time.perf_counter()
        outcome = report_generate(report_id)
        elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": outcome["rows"],
                "bytes": outcome["bytes"],
                "seconds": round(elapsed, 2),
                "rss_before_mb": round(rss.base / 2**20, 1),
                "rss_growth_mb": rss.growth_mb,
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        main()
