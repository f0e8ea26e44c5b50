"""Property tests over the API's inputs (hypothesis): whatever JSON a client sends to an endpoint
that writes, the answer is never a 5xx, and when it is a 4xx nothing was written. The bodies
mix the endpoints' own field names with any JSON value, and the values that once broke the API:
unpaired surrogates, integers beyond 64 bits, deep nesting, non-ASCII digits, 1e30, 9999-12-31.

HYPOTHESIS_API_EXAMPLES (default 40) sets the examples per endpoint. schemathesis
(tests/api/test_schema.py) covers the schema's own view of every operation."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from api.auth import token_create
from audit.models import AuditEntry
from jobs.models import JobRecord, QueueState
from jobs.ops.enqueue import enqueue
from payouts import services as payouts
from payouts.models import LedgerEntry, Payout, PayoutRun
from reports.models import Import, Report

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("HYPOTHESIS_API_EXAMPLES", "40"))

TROUBLE = st.sampled_from(
    [
        "\ud800",
        "a\udfffb",
        "١٢",
        "1e30",
        "-1",
        "0",
        "9999-12-31",
        "99999999999999999999",
        "NaN",
        "",
        " ",
        "test.count",
        "payouts.process",
        "payouts.daily_run",
        "payee_statement",
        "export",
        "ledger",
        "payees",
        "2026-01-01",
        "default",
        "dead",
        "succeeded",
    ]
)
TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=False), TEXT, TROUBLE)
VALUE = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.one_of(TEXT, TROUBLE), inner, max_size=3), max_leaves=8
)
QUERY_TEXT = st.text(max_size=12)  # a query string is bytes decoded as UTF-8: it cannot hold a surrogate
DEEP = st.integers(min_value=30, max_value=2000).map(lambda n: json.loads("[" * n + "]" * n) if n < 900 else "deep")


def body(**fields):
    """An object with some of ``fields`` (each a strategy), any of them possibly any JSON value."""
    return st.fixed_dictionaries({}, optional={name: st.one_of(strategy, VALUE, DEEP) for name, strategy in fields.items()})


ENDPOINTS = {
    "/api/v1/jobs/": body(
        task=TROUBLE,
        args=st.lists(VALUE, max_size=3),
        kwargs=st.dictionaries(TEXT, VALUE, max_size=3),
        queue=TROUBLE,
        priority=st.sampled_from(["critical", "low", 7]),
        delay=st.floats(),
        dedup_key=TEXT,
    ),
    "/api/v1/payouts/": body(
        payee=st.integers(min_value=-5, max_value=2**70),
        amount=st.one_of(TROUBLE, st.decimals().map(str)),
        currency=st.sampled_from(["EUR", "eur", "USD", "€"]),
        reason=TEXT,
    ),
    "/api/v1/reports/": body(
        kind=TROUBLE,
        parameters=st.dictionaries(
            st.sampled_from(["payee", "period_start", "period_end", "date", "dataset", "format", "filters"]), VALUE, max_size=5
        ),
    ),
    "/api/v1/payout-runs/": body(
        payees=st.lists(st.integers(min_value=-1, max_value=2**70), max_size=3), dry_run=st.booleans(), reason=TEXT
    ),
    "/api/v1/queues/default/pause/": body(reason=TEXT),
    "/api/v1/queues/default/clean/": body(state=TROUBLE, grace=st.integers(), limit=st.integers(), reason=TEXT),
    "/api/v1/dead-letter/requeue/": body(ids=st.lists(st.one_of(st.uuids().map(str), TROUBLE), max_size=3), reason=TEXT),
}


def written() -> tuple:
    return (
        JobRecord.objects.count(),
        Payout.objects.count(),
        PayoutRun.objects.count(),
        Report.objects.count(),
        Import.objects.count(),
        LedgerEntry.objects.count(),
        QueueState.objects.filter(paused=True).count(),
        AuditEntry.objects.exclude(action="token.create").count(),
    )


@pytest.fixture
def client(django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", None)
    payee = payouts.payee_create(root, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(payee.pk, "100.00")
    enqueue("test.count", kwargs={"key": "x"}, created_by=root)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(root, 'properties')[1]}")
    return api


def _encode(value) -> str:
    if value == "deep" or (isinstance(value, dict) and "deep" in value.values()):
        deep = "[" * 100_000 + "]" * 100_000  # beyond what Python's parser can nest
        return json.dumps(value).replace('"deep"', deep)
    return json.dumps(value)  # ASCII: unpaired surrogates travel as \ud800, as any client would send them


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_input_answers_5xx_and_a_refusal_writes_nothing(client, path):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=ENDPOINTS[path])
    def check(data):
        before = written()
        response = client.post(path, _encode(data), content_type="application/json")
        assert response.status_code < 500, (data, response.content[:300])
        assert response["Content-Type"].startswith("application/json")
        if response.status_code >= 400:
            assert written() == before, (data, response.status_code, response.content[:300])

    check()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["state", "queue", "task", "subject_type", "subject_id", "created_after", "created_before", "page_size", "cursor", "limit"]
        ),
        st.one_of(QUERY_TEXT, TROUBLE.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t))),
        max_size=4,
    )
)
def test_no_query_string_answers_5xx(client, query):
    for path in ("/api/v1/jobs/", "/api/v1/jobs/recent/", "/api/v1/dead-letter/", "/api/v1/payouts/"):
        response = client.get(path, query)
        assert response.status_code < 500, (path, query, response.content[:300])
