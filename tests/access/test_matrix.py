"""Who may do what, on every surface, in one place.

Six roles: anonymous; a user ("ann", who owns the objects); another user ("bob"); staff with
no permissions at all ("ops"); staff with exactly the permissions an entry names ("pat");
and a superuser. Staff status alone must grant nothing: "ops" sees what "bob" sees.

* API: every operation of the OpenAPI schema has a row below (a test fails for one without).
* Dashboard: every URL of jobs.web.dashboard has a row.
* Admin: every registered model's list and add pages are generated from the admin's
  registry, with the permission each needs; every admin action has a row naming its
  permission, and is offered to exactly the roles that hold it.
* RQ dashboard: every one of its URLs is generated from its URL patterns: read-only for
  holders of django_rq.admin, refused to everyone else, and its actions refused to all.

A cell is the status that role gets: 401 no credentials; 403 not allowed; 404 not yours
(answered as if it did not exist); 400 allowed, but the input is refused; "login" the
admin's redirect to its login page.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver, resolve, reverse
from django_rq.models import Dashboard
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from api.auth import token_create
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from jobs.web import dashboard
from payouts import services as payouts
from payouts.models import Payout
from reports.models import Import, Report
from tests.perms import permissions

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "user", "other", "staff", "perm", "superuser")
L = "login"

# (method, path, body, the permissions "perm" gets, status for each role in ROLES order)
API = [
    # queues
    ("get", "/api/v1/queues/", None, ["jobs.view_queuestate"], (401, 403, 403, 403, 200, 200)),
    ("get", "/api/v1/queues/default/", None, ["jobs.view_queuestate"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/pause/", {"reason": "matrix"}, ["jobs.pause_queue"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/resume/", {}, ["jobs.pause_queue"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/queues/default/clean/", {"grace": 0}, ["jobs.delete_jobrecord"], (401, 403, 403, 403, 200, 200)),
    # jobs: everyone their own; jobs.view_jobrecord all
    ("get", "/api/v1/jobs/", None, ["jobs.view_jobrecord"], (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/jobs/", {"task": "test.count"}, ["jobs.enqueue_task"], (401, 403, 403, 403, 201, 201)),
    # a task that moves money is never enqueued by name, whoever asks
    ("post", "/api/v1/jobs/", {"task": "payouts.daily_run"}, ["jobs.enqueue_task", "payouts.run_payouts"], (401, 403, 403, 403, 403, 403)),
    ("get", "/api/v1/jobs/recent/", None, ["jobs.view_jobrecord"], (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/jobs/failed/", None, ["jobs.view_jobrecord"], (401, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/jobs/{queued}/", None, ["jobs.view_jobrecord"], (401, 200, 404, 404, 200, 200)),
    ("get", "/api/v1/jobs/{succeeded}/events/", None, ["jobs.view_jobrecord"], (401, 200, 404, 404, 200, 200)),
    ("delete", "/api/v1/jobs/{succeeded}/", None, ["jobs.view_jobrecord", "jobs.delete_jobrecord"], (401, 403, 404, 404, 204, 204)),
    ("post", "/api/v1/jobs/{dead}/retry/", {}, ["jobs.change_jobrecord"], (401, 403, 403, 403, 200, 200)),
    # re-running a money task's job takes that task's permission too
    ("post", "/api/v1/jobs/{dead_payout_job}/retry/", {}, ["jobs.change_jobrecord"], (401, 403, 403, 403, 403, 200)),
    ("post", "/api/v1/jobs/{queued}/cancel/", {}, ["jobs.change_jobrecord"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/jobs/{dead}/requeue/", {}, ["jobs.change_jobrecord"], (401, 403, 403, 403, 200, 200)),
    ("get", "/api/v1/users/{ann}/jobs/", None, ["jobs.view_jobrecord"], (401, 200, 403, 403, 200, 200)),
    ("get", "/api/v1/dead-letter/", None, ["jobs.view_jobrecord"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/dead-letter/requeue/", {"ids": ["{dead}"]}, ["jobs.change_jobrecord"], (401, 403, 403, 403, 200, 200)),
    # payouts: everyone their own payee account's; the rest by named permission
    ("get", "/api/v1/payouts/", None, ["payouts.view_payout"], (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/payouts/", {"payee": "{payee}", "amount": "5.00"}, ["payouts.request_payout"], (401, 201, 403, 403, 201, 201)),
    ("get", "/api/v1/payouts/{payout}/", None, ["payouts.view_payout"], (401, 200, 404, 404, 200, 200)),
    ("post", "/api/v1/payouts/{payout}/approve/", {}, ["payouts.approve_payout"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/payouts/{payout}/cancel/", {}, ["payouts.change_payout"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/payouts/{failed_payout}/retry/", {}, ["payouts.run_payouts"], (401, 403, 403, 403, 200, 200)),
    ("post", "/api/v1/payout-runs/", {"dry_run": True}, ["payouts.run_payouts"], (401, 403, 403, 403, 200, 200)),
    # reports: your own; asking for others' data takes reports.add_report and the data's view permission
    ("get", "/api/v1/reports/", None, ["reports.view_report"], (401, 200, 200, 200, 200, 200)),
    (
        "post",
        "/api/v1/reports/",
        {"kind": "payee_statement", "parameters": {"payee": "{payee}", "period_start": "2026-01-01", "period_end": "2026-01-31"}},
        ["reports.add_report", "payouts.view_ledgerentry"],
        (401, 201, 403, 403, 201, 201),
    ),
    (
        "post",
        "/api/v1/reports/",
        {"kind": "export", "parameters": {"dataset": "ledger"}},
        ["reports.add_report", "payouts.view_ledgerentry"],
        (401, 403, 403, 403, 201, 201),
    ),
    ("get", "/api/v1/reports/{report}/", None, ["reports.view_report"], (401, 200, 404, 404, 200, 200)),
    ("get", "/api/v1/reports/{report}/download/", None, ["reports.view_report"], (401, 409, 404, 404, 409, 409)),  # 409: not ready
    # imports: one permission per kind
    ("get", "/api/v1/imports/", None, ["reports.view_import"], (401, 200, 200, 200, 200, 200)),
    ("post", "/api/v1/imports/", "upload ledger", ["reports.import_ledger"], (401, 403, 403, 403, 201, 201)),
    ("post", "/api/v1/imports/", "upload payees", ["reports.import_ledger"], (401, 403, 403, 403, 403, 201)),
    ("get", "/api/v1/imports/{import}/", None, ["reports.view_import"], (401, 404, 404, 404, 200, 200)),
    # the schema and its docs page are public: they name operations, never data
    ("get", "/api/v1/schema/", None, [], (200, 200, 200, 200, 200, 200)),
    ("get", "/api/v1/docs/", None, [], (200, 200, 200, 200, 200, 200)),
]

# The buttons on a job's page (JobRecordAdmin.object_action), and the dashboard.
DASHBOARD = [
    ("post", "/admin/jobs/jobrecord/{dead}/act/retry/", ["jobs.change_jobrecord", "jobs.view_jobrecord"], (L, L, L, 403, 302, 302)),
    ("post", "/admin/jobs/jobrecord/{dead_payout_job}/act/retry/", ["jobs.change_jobrecord"], (L, L, L, 403, 403, 302)),
    ("post", "/admin/jobs/deadletterjob/{dead}/act/requeue/", ["jobs.change_jobrecord"], (L, L, L, 403, 302, 302)),
    ("get", "/admin/dashboard/", ["jobs.view_queuestate"], (L, L, L, 403, 200, 200)),
    ("get", "/admin/dashboard/live/", ["jobs.view_queuestate"], (L, L, L, 403, 200, 200)),
    ("get", "/admin/dashboard/series/", ["jobs.view_queuestate"], (L, L, L, 403, 200, 200)),
    ("post", "/admin/dashboard/queues/default/pause/", ["jobs.pause_queue"], (L, L, L, 403, 302, 302)),
    ("post", "/admin/dashboard/jobs/{dead}/retry/", ["jobs.change_jobrecord"], (L, L, L, 403, 302, 302)),
    ("post", "/admin/dashboard/jobs/{dead_payout_job}/retry/", ["jobs.change_jobrecord"], (L, L, L, 403, 403, 302)),
]

# Everything else the URL configuration serves (outside /admin/ and /api/v1/): (method, path,
# how the role signs in, the permissions "perm" gets, statuses).
OTHER = [
    ("get", "/reports/{report}/download/", "session", ["reports.view_report"], (L, 409, 404, 404, 409, 409)),
    ("get", "/metrics", "token", ["jobs.view_queuestate"], (401, 401, 401, 401, 200, 200)),
    # / is a page for anyone; staff go on to the admin, those who may see queues to the dashboard
    ("get", "/", "session", ["jobs.view_queuestate"], (200, 200, 200, 302, 302, 302)),
    ("get", "/health/live", "none", [], (200, 200, 200, 200, 200, 200)),
    ("get", "/health/ready", "none", [], (503, 503, 503, 503, 503, 503)),  # no scheduler runs in a test: not ready, for anyone
    # Providers' callbacks: the provider's signature is the only credential; no login or permission opens them.
    ("post", "/webhooks/twilio/status/", "session", ["notifications.change_notification"], (403, 403, 403, 403, 403, 403)),
    ("post", "/webhooks/payouts/sandbox/", "session", ["payouts.run_payouts"], (403, 403, 403, 403, 403, 403)),
]

# Admin screens whose permission is not the model's own view/add permission.
VIEW_PERMS = {"jobs.deadletterjob": ["jobs.view_jobrecord"], "django_rq.dashboard": ["django_rq.admin"]}
ADD_PERMS = {"reports.import": ["reports.import_ledger"], "auth.user": ["auth.add_user", "auth.change_user"]}

# Every admin action and what it needs beyond seeing the list ("delete_selected" is generated).
ACTIONS = {
    ("jobs.jobrecord", "retry_jobs"): ["jobs.change_jobrecord"],
    ("jobs.jobrecord", "requeue_jobs"): ["jobs.change_jobrecord"],
    ("jobs.jobrecord", "cancel_jobs"): ["jobs.change_jobrecord"],
    ("jobs.deadletterjob", "requeue_jobs"): ["jobs.change_jobrecord"],
    ("jobs.queuestate", "pause_queues"): ["jobs.pause_queue"],
    ("jobs.queuestate", "resume_queues"): ["jobs.pause_queue"],
    ("jobs.queuestate", "clean_succeeded"): ["jobs.delete_jobrecord"],
    ("jobs.schedule", "fire_now"): ["jobs.change_schedule"],
    ("jobs.schedule", "enable"): ["jobs.change_schedule"],
    ("jobs.schedule", "disable"): ["jobs.change_schedule"],
    ("notifications.notification", "send_again"): ["notifications.change_notification"],
    ("jobs.webhookdelivery", "deliver_again"): ["jobs.change_webhookdelivery"],
    ("api.apitoken", "revoke"): ["api.change_apitoken"],
    ("payouts.payee", "pay_now"): ["payouts.run_payouts"],
    ("payouts.payee", "preview_payouts"): [],
    ("payouts.payout", "approve"): ["payouts.approve_payout"],
    ("payouts.payout", "cancel"): ["payouts.change_payout"],
    ("payouts.payout", "retry"): ["payouts.run_payouts"],
    ("payouts.payout", "run_now"): ["payouts.run_payouts"],
    ("payouts.payout", "check_settlement"): ["payouts.run_payouts"],
    ("payouts.reconciliationreport", "run_reconciliation"): ["payouts.change_reconciliationreport"],
    ("auth.user", "run_analytics"): ["jobs.enqueue_task"],
    ("axes.accessattempt", "cleanup_expired_attempts"): ["axes.delete_accessattempt"],
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def world(django_user_model, settings):
    users = {  # no passwords (tokens and force_login): hashing six passwords per case would dominate the run
        "user": django_user_model.objects.create_user("ann", "ann@example.com"),
        "other": django_user_model.objects.create_user("bob", "bob@example.com"),
        "staff": django_user_model.objects.create_user("ops", "ops@example.com", is_staff=True),
        "perm": django_user_model.objects.create_user("pat", "pat@example.com", is_staff=True),
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
    money_job = JobRecord.objects.filter(task_name="payouts.process", subject_id=str(failed.pk)).get()
    JobRecord.objects.filter(pk=money_job.pk).update(state=State.DEAD, finished_at="2020-01-01T00:00:00Z")
    report = Report.objects.create(kind=Report.Kind.PAYEE_STATEMENT, parameters={"payee": payee.pk}, requested_by=ann)
    upload = Import.objects.create(kind=Import.Kind.LEDGER, original_name="c.csv", sha256="0" * 64, requested_by=users["superuser"])
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("20.00")
    ids = {
        "ann": ann.pk,
        "payee": payee.pk,
        "failed_payout": failed.pk,
        "dead_payout_job": money_job.pk,
        "payout": payouts.payout_request(payee.pk, "50").pk,  # above the threshold: awaits approval
        "report": report.pk,
        "import": upload.pk,
        **{name: job.pk for name, job in jobs.items()},
    }
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


def _as(users, role, perms):
    """The role's user, with exactly ``perms`` for the "perm" role."""
    if role == "anonymous":
        return None
    user = users[role]
    if role == "perm":
        user.user_permissions.set(permissions(*perms))
        user = type(user).objects.get(pk=user.pk)
    return user


def _cases(table) -> list:
    return [
        pytest.param(*row[:-1], role, code, id=f"{row[0].upper()} {row[1]} {row[2] if isinstance(row[2], str) else ''} as {role}")
        for row in table
        for role, code in zip(ROLES, row[-1])
    ]


def _session(users, role, perms) -> Client:
    """A browser client signed in as the role (anonymous: not signed in)."""
    client = Client()
    user = _as(users, role, perms)
    if user is not None:
        client.force_login(user)
    return client


def _superuser_request():
    """A request from an unsaved superuser, for asking a ModelAdmin what it offers."""
    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
    return request


def _status(response) -> int | str:
    if response.status_code == 302 and "/admin/login/" in response.get("Location", ""):
        return L
    return response.status_code


@pytest.mark.parametrize("method, path, body, perms, role, expected", _cases(API))
def test_api(world, method, path, body, perms, role, expected):
    users, ids = world
    client = APIClient()
    user = _as(users, role, perms)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user, 'matrix')[1]}")
    url = path.format(**ids)
    if isinstance(body, str) and body.startswith("upload"):
        kind = body.split()[1]
        content = b"username,amount,reference\nann,5.00,m-1\n" if kind == "ledger" else b"username,currency,account\nzed,EUR,DE1234\n"
        response = client.post(url, {"kind": kind, "file": SimpleUploadedFile("c.csv", content)}, format="multipart")
    elif body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, _fill(body, ids), format="json")
    assert response.status_code == expected, (role, url, getattr(response, "data", response.content[:300]))


@pytest.mark.parametrize("method, path, perms, role, expected", _cases(DASHBOARD))
def test_dashboard(world, method, path, perms, role, expected):
    users, ids = world
    response = getattr(_session(users, role, perms), method)(path.format(**ids))
    assert _status(response) == expected, (role, path, response.content[:300])


@pytest.mark.parametrize("method, path, auth, perms, role, expected", _cases(OTHER))
def test_other_urls(world, method, path, auth, perms, role, expected):
    users, ids = world
    client = Client()
    user = _as(users, role, perms) if auth != "none" else None
    headers = {}
    if user is not None and auth == "session":
        client.force_login(user)
    elif user is not None:
        headers["HTTP_AUTHORIZATION"] = f"Token {token_create(user, 'matrix')[1]}"
    response = getattr(client, method)(path.format(**ids), **headers)
    assert _status(response) == expected, (role, path, response.content[:300])


def _routes(patterns=None, prefix=""):
    """Every URL pattern of the project as (route, pattern), includes expanded."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route, pattern


def test_every_url_outside_the_admin_and_the_api_has_a_row():
    served = {pattern.callback for route, pattern in _routes() if not route.startswith(("admin/", "api/v1/"))}
    rows = {resolve(path.format(report=1)).func for _, path, *_ in OTHER}
    assert served <= rows, sorted(getattr(f, "__name__", repr(f)) for f in served - rows)


def _registered():
    return sorted(
        (f"{model._meta.app_label}.{model._meta.model_name}", model, model_admin) for model, model_admin in admin.site.registry().items()
    )


def _admin_pages():
    cases = []
    for label, _model, model_admin in _registered():
        app, name = label.split(".")
        pages = [("changelist", VIEW_PERMS.get(label, [f"{app}.view_{name}"]))]
        if label in ADD_PERMS or _superuser_may_add(model_admin):
            pages.append(("add", ADD_PERMS.get(label, [f"{app}.add_{name}"])))
        for page, perms in pages:
            for role, code in zip(ROLES, (L, L, L, 403, 200, 200)):
                cases.append(pytest.param(label, page, perms, role, code, id=f"{label} {page} as {role}"))
    return cases


def _superuser_may_add(model_admin) -> bool:
    return model_admin.has_add_permission(_superuser_request())


@pytest.mark.parametrize("label, page, perms, role, expected", _admin_pages())
def test_admin_pages(world, label, page, perms, role, expected):
    users, _ = world
    response = _session(users, role, perms).get(reverse(f"admin:{label.replace('.', '_')}_{page}"))
    assert _status(response) == expected, (role, label, page, response.content[:300])


def _all_actions() -> dict:
    """(model label, action) -> permissions, for every action a superuser is offered."""
    found = {}
    for label, _model, model_admin in _registered():
        for name in model_admin.get_actions(_superuser_request()):
            app, model_name = label.split(".")
            found[(label, name)] = ACTIONS.get((label, name), [f"{app}.delete_{model_name}"] if name == "delete_selected" else None)
    return found


def test_every_admin_action_has_a_row():
    missing = sorted(key for key, perms in _all_actions().items() if perms is None)
    assert not missing, f"admin actions without a row in ACTIONS: {missing}"
    assert set(ACTIONS) <= set(_all_actions()), sorted(set(ACTIONS) - set(_all_actions()))


def _action_cases():
    return [
        pytest.param(label, name, perms, id=f"{label} {name}")
        for (label, name), perms in sorted(_all_actions().items())
        if perms is not None
    ]


@pytest.mark.parametrize("label, action, perms", _action_cases())
def test_admin_actions_are_offered_to_exactly_their_permission_holders(world, label, action, perms):
    """Django runs only the actions it offers (get_actions), so who is offered one is who may run it."""
    users, _ = world
    app, name = label.split(".")
    model_admin = next(a for lbl, _m, a in _registered() if lbl == label)
    view = VIEW_PERMS.get(label, [f"{app}.view_{name}"])

    def offered(role, granted) -> bool:
        request = RequestFactory().get(reverse(f"admin:{app}_{name}_changelist"))
        request.user = _as(users, role, granted) or AnonymousUser()
        return action in model_admin.get_actions(request)

    for role in ("anonymous", "user", "other", "staff"):
        assert not offered(role, []), role
    if perms and set(perms) != set(view):
        assert not offered("perm", view), "offered to a user who may only look"
    assert offered("perm", view + perms)
    assert offered("superuser", [])
    assert _session(users, "perm", view + perms).get(reverse(f"admin:{app}_{name}_changelist")).status_code == 200  # the list opens


def _rq_cases():
    patterns = admin.site.registry()[Dashboard].get_urls()
    cases = []
    for pattern in patterns:
        route = str(pattern.pattern)
        route = re.sub(r"<int:\w+>", "0", route)
        route = re.sub(r"<(str|path):\w+>", "nope", route)
        route = route.replace("^", "").replace("$", "").replace("(?P<token>[\\w]+)?", "nope").replace("/?", "/")
        url = "/admin/django_rq/dashboard/" + route
        json_view = pattern.callback.__name__ in ("stats_json", "prometheus_metrics")
        refused_anonymous, refused_user = (401, 403) if json_view else (L, L)
        for method in ("get", "post"):
            allowed = "allowed" if method == "get" else 403
            codes = (refused_anonymous, refused_user, refused_user, 403, allowed, allowed)
            for role, code in zip(ROLES, codes):
                cases.append(pytest.param(method, url, role, code, id=f"{method.upper()} {url} as {role}"))
    return cases


@pytest.mark.parametrize("method, url, role, expected", _rq_cases())
def test_rq_dashboard(world, method, url, role, expected):
    users, _ = world
    response = getattr(_session(users, role, ["django_rq.admin"]), method)(url)
    status = _status(response)
    if expected == "allowed":
        assert status not in (401, 403, L) and status < 500, (role, url, response.content[:300])
    else:
        assert status == expected, (role, url, response.content[:300])


def test_every_api_operation_and_dashboard_url_has_a_row():
    documented = {
        (method, path) for path, ops in SchemaGenerator().get_schema(request=None, public=True)["paths"].items() for method in ops
    }
    covered = {
        (method, re.sub(r"\{(\w+)\}|/default/", lambda m: "/{x}/" if m.group(0) == "/default/" else "{x}", path))
        for method, path, *_ in API
    }
    normalised = {(m, re.sub(r"\{\w+\}", "{x}", p)) for m, p in documented}
    assert normalised <= covered, sorted(normalised - covered)
    names = {p.name for p in dashboard.urls()} | {"jobs_jobrecord_act", "jobs_deadletterjob_act"}
    rows = {
        resolve(path.format(dead="00000000-0000-0000-0000-000000000000", dead_payout_job="00000000-0000-0000-0000-000000000000")).url_name
        for _, path, *_ in DASHBOARD
    }
    assert names <= rows, sorted(names - rows)


def test_a_permission_named_in_a_row_exists():
    named = {p for rows in (API, DASHBOARD) for row in rows for p in row[-2]} | {p for perms in ACTIONS.values() for p in perms}
    named |= {p for perms in (*VIEW_PERMS.values(), *ADD_PERMS.values()) for p in perms}
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    assert named <= existing, sorted(named - existing)
