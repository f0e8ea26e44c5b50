#!/usr/bin/env python
"""`make bench` (part 6): what route-group middleware saves per request.

Each group's middleware chain (config/middleware.py) is timed around a view that does
nothing, against the full stack every request ran before, for a health check and a
token-authenticated API call (and an admin request, which keeps the full stack).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup  # noqa: E402

N = int(os.environ.get("BENCH_REQUESTS", "20000"))


def main() -> None:
    setup()
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser  # noqa: F401  (app registry ready)
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.middleware import RouteGroupMiddleware

    factory = RequestFactory()
    view = lambda request: HttpResponse("ok")  # noqa: E731
    grouped = RouteGroupMiddleware(view)
    settings.MIDDLEWARE_GROUPS, saved = [("all", ["/"], False, settings.SESSION_MIDDLEWARE)], settings.MIDDLEWARE_GROUPS
    full = RouteGroupMiddleware(view)
    settings.MIDDLEWARE_GROUPS = saved

    def per_request_us(chain, make) -> float:
        best = None
        for _ in range(3):
            requests = [make() for _ in range(N)]
            started = time.perf_counter()
            for request in requests:
                chain(request)
            took = (time.perf_counter() - started) / N * 1e6
            best = took if best is None else min(best, took)
        return round(best, 1)

    kinds = {
        "health_check": lambda: factory.get("/health/live"),
        "token_api_call": lambda: factory.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Token 0123456789abcdef"),
        "admin_page": lambda: factory.get("/admin/"),
    }
    results = {}
    for name, make in kinds.items():
        group = grouped._group(make()).name
        with_groups, everything = per_request_us(grouped, make), per_request_us(full, make)
        results[name] = {
            "group": group,
            "middleware_us_per_request": with_groups,
            "full_stack_us_per_request": everything,
            "saved_us": round(everything - with_groups, 1),
            "saved_share": round(1 - with_groups / everything, 2),
        }
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.uname().machine} {os.cpu_count()} cores",
        "requests_per_measure": N,
        **results,
    }
    out = ROOT / "bench" / "results" / "middleware.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
