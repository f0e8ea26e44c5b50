"""The authorisation matrix: every API endpoint × anonymous, a user, another user, staff (no
model permissions) and a superuser, in one table. The objects belong to the user ("ann").

A cell is the status code that role gets. Reading a row tells who may do what:
401 no credentials; 403 not allowed; 404 not yours (answered as if it did not exist);
400 allowed, but the input is refused (e.g. another user's payee account)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from jobs.api.auth import token_create
from jobs.models import JobRecord
from jobs.services import enqueue
from jobs.states import State
from payouts import services as payouts
from payouts.models import Payout
from reports.models import Import, Report

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "user", "other", "staff", "superuser")

# (method, path, body, expected status for each role in ROLES order)
MATRIX = [
    # queues: staff
    ("get", "/api/v1/queues/", None, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/queues/default/", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/pause/", {"reason": "matrix"}, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/resume/", {}, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/clean/", {"grace": 0}, (401, 403, 403, 200, 200)),
    # jobs: everyone their own, staff all and the actions
    ("get", "/api/v1/jobs/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/jobs/", {"task": "test.count"}, (401, 403, 403, 201, 201)),
    ("get", "/api/v1/jobs/recent/", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/jobs/failed/", None, (401, 200, 200, 200, 200)),
    ("get", "/api/v1/jobs/{queued}/", None, (401, 200, 404, 200, 200)),
    ("delete", "/api/v1/jobs/{succeeded}/", None, (401, 403, 404, 204, 204)),
    ("post", "/api/v1/jobs/{dead}/retry/", {}, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/jobs/{queued}/cancel/", {}, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/jobs/{dead}/requeue/", {}, (401, 403, 403, 200, 200)),
    ("get", "/api/v1/users/{ann}/jobs/", None, (401, 200, 403, 200, 200)),
    ("get", "/api/v1/dead-letter/", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/dead-letter/requeue/", {"ids": ["{dead}"]}, (401, 403, 403, 200, 200)),
    # payouts: everyone their own; moving money takes staff *and* the change permission
    ("get", "/api/v1/payouts/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/payouts/", {"payee": "{payee}", "amount": "5.00"}, (401, 201, 400, 201, 201)),
    ("get", "/api/v1/payouts/{payout}/", None, (401, 200, 404, 200, 200)),
    ("post", "/api/v1/payouts/{payout}/approve/", {}, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/payouts/{payout}/cancel/", {}, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/payouts/{failed_payout}/retry/", {}, (401, 403, 403, 403, 200)),
    ("post", "/api/v1/payout-runs/", {"dry_run": True}, (401, 403, 403, 403, 200)),
    # reports: your own (a user: statements of their own payee account); staff need the view permission to see others'
    ("get", "/api/v1/reports/", None, (401, 200, 200, 200, 200)),
    ("post", "/api/v1/reports/", {"kind": "payee_statement", "parameters": {"payee": "{payee}", "period_start": "2026-01-01",
                                                                            "period_end": "2026-01-31"}}, (401, 201, 400, 201, 201)),
    ("get", "/api/v1/reports/{report}/", None, (401, 200, 404, 404, 200)),
    ("get", "/api/v1/reports/{report}/download/", None, (401, 409, 404, 404, 409)),  # 409: not ready yet
    # imports: staff
    ("get", "/api/v1/imports/", None, (401, 403, 403, 200, 200)),
    ("post", "/api/v1/imports/", "upload", (401, 403, 403, 201, 201)),
    ("get", "/api/v1/imports/{import}/", None, (401, 403, 403, 200, 200)),
    # the schema and its docs page are public
    ("get", "/api/v1/schema/", None, (200, 200, 200, 200, 200)),
    ("get", "/api/v1/docs/", None, (200, 200, 200, 200, 200)),
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def world(django_user_model, settings):
    users = {  # no passwords (tokens only): hashing four passwords per case would dominate the run
        "user": django_user_model.objects.create_user("ann", "ann@example.com"),
        "other": django_user_model.objects.create_user("bob", "bob@example.com"),
        "staff": django_user_model.objects.create_user("ops", "ops@example.com", is_staff=True),
        "superuser": django_user_model.objects.create_superuser("root", "root@example.com", None),
    }
    ann = users["user"]
    payee = payouts.payee_create(ann, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(payee.pk, "100.00")
    payouts.payee_create(users["other"], currency="EUR", account="DE02120300000000202051")
    jobs = {name: enqueue("test.count", kwargs={"key": name}, created_by=ann) for name in ("queued", "dead", "succeeded")}
    JobRecord.objects.filter(pk=jobs["dead"].pk).update(state=State.DEAD, finished_at="2020-01-01T00:00:00Z")
    JobRecord.objects.filter(pk=jobs["succeeded"].pk).update(state=State.SUCCEEDED, finished_at="2020-01-01T00:00:00Z")
    failed = payouts.payout_request(payee.pk, "10")  # below PAYOUT_APPROVAL_THRESHOLD: approved at once
    Payout.objects.filter(pk=failed.pk).update(state=Payout.State.FAILED)
    report = Report.objects.create(kind=Report.Kind.PAYEE_STATEMENT, parameters={"payee": payee.pk}, requested_by=ann)
    upload = Import.objects.create(kind=Import.Kind.LEDGER, original_name="c.csv", sha256="0" * 64, requested_by=users["superuser"])
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("20.00")
    ids = {"ann": ann.pk, "payee": payee.pk, "failed_payout": failed.pk,
           "payout": payouts.payout_request(payee.pk, "50").pk,  # above the threshold: awaits approval
           "report": report.pk, "import": upload.pk, **{name: job.pk for name, job in jobs.items()}}
    return users, ids


def _fill(value, ids):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]  # a whole value: keep its type (a payee id is a number)
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _cases() -> list:
    return [pytest.param(method, path, body, role, code, id=f"{method.upper()} {path} as {role}")
            for method, path, body, codes in MATRIX for role, code in zip(ROLES, codes)]


@pytest.mark.parametrize("method, path, body, role, expected", _cases())
def test_authorisation_matrix(world, method, path, body, role, expected):
    users, ids = world
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(users[role], 'matrix')[1]}")
    url = path.format(**ids)
    if body == "upload":
        upload = SimpleUploadedFile("c.csv", b"username,amount,reference\nann,5.00,m-1\n")
        response = client.post(url, {"kind": "ledger", "file": upload}, format="multipart")
    elif body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, _fill(body, ids), format="json")
    assert response.status_code == expected, (role, url, getattr(response, "data", response.content[:300]))


def test_the_matrix_covers_every_operation_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    documented = {(method, path) for path, ops in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
                  for method in ops}
    import re

    covered = {(method, re.sub(r"\{(\w+)\}|/default/", lambda m: "/{x}/" if m.group(0) == "/default/" else "{x}", path))
               for method, path, _, _ in MATRIX}
    normalised = {(m, re.sub(r"\{\w+\}", "{x}", p)) for m, p in documented}
    assert normalised <= covered, sorted(normalised - covered)


def test_a_staff_member_given_the_payout_permission_may_move_money(world):
    users, ids = world
    users["staff"].user_permissions.add(Permission.objects.get(codename="change_payout"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(users['staff'], 'matrix')[1]}")
    assert client.post(f"/api/v1/payouts/{ids['payout']}/approve/", {}, format="json").status_code == 200
