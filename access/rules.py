"""Who may do what: one set of rules for the admin, the REST API, the dashboard and the RQ
dashboard. Every rule is a Django permission; staff status alone grants nothing (it only
lets a person log in to the admin). Superusers hold every permission.

The permissions named here beyond Django's view/add/change/delete (docs/api.md has the table):

=========================  =====================================================================
``jobs.enqueue_task``      enqueue a task by name (``POST /api/v1/jobs/``), for tasks that allow it
``jobs.pause_queue``       pause and resume queues
``jobs.delete_jobrecord``  delete job history (a finished job; a queue's clean)
``payouts.request_payout`` request a payout from any payee's balance (anyone may from their own)
``payouts.approve_payout`` approve a payout that waits for approval
``payouts.run_payouts``    start payout runs ("pay now"), send a failed payout again, retry money jobs
``reports.import_payees``  import payees: creates accounts and changes bank details
``reports.import_ledger``  import ledger credits: adds money to balances
``django_rq.admin``        open the RQ dashboard (read-only)
=========================  =====================================================================

Pure: no models are imported; tasks and jobs are passed in.
"""

from __future__ import annotations

ENQUEUE_TASK = "jobs.enqueue_task"
PAUSE_QUEUE = "jobs.pause_queue"
DELETE_JOBS = "jobs.delete_jobrecord"
REQUEST_PAYOUT = "payouts.request_payout"
APPROVE_PAYOUT = "payouts.approve_payout"
RUN_PAYOUTS = "payouts.run_payouts"
IMPORT_PAYEES = "reports.import_payees"
IMPORT_LEDGER = "reports.import_ledger"
RQ_DASHBOARD = "django_rq.admin"
VIEW_JOBS = "jobs.view_jobrecord"
VIEW_PAYOUTS = "payouts.view_payout"


def has(user, *perms: str) -> bool:
    """An active, authenticated user holding every one of ``perms`` (superusers hold them all)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return all(user.has_perm(perm) for perm in perms)


def is_superuser(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_superuser)


def _needs(*perms: str) -> str:
    return f"needs the {' and '.join(perms)} permission{'s' if len(perms) > 1 else ''}"


def needs(*perms: str) -> str:
    """The refusal message for a missing permission: it names what to ask for."""
    return f"This {_needs(*perms)}."


def refusal_to_enqueue_by_name(user, task) -> str | None:
    """Why ``user`` may not enqueue ``task`` through the generic job endpoint, or None."""
    if task.money:
        return f"{task.name} moves money and is never enqueued by name; use its own endpoint (payouts, payout runs)"
    if not task.api or not task.permission:
        return f"{task.name} cannot be enqueued from outside; it is started by the code or a schedule"
    if not has(user, ENQUEUE_TASK, task.permission):
        return needs(*dict.fromkeys((ENQUEUE_TASK, task.permission)))
    return None


def refusal_to_start(user, task) -> str | None:
    """Why ``user`` may not make ``task`` run from a surface that names it (a schedule added,
    changed, enabled or run now), or None. A task without a permission: superusers only."""
    if is_superuser(user):
        return None
    if not task.permission:
        return f"only a superuser may schedule or start {task.name}"
    if not has(user, task.permission):
        return f"scheduling or starting {task.name} {_needs(task.permission)}"
    return None


def sees_all_jobs(user) -> bool:
    """Holders of jobs.view_jobrecord see every job; everyone else the jobs they created."""
    return has(user, VIEW_JOBS)


def refusal_to_see_jobs_of(user, user_id: int) -> str | None:
    """A user's job list is theirs, and any holder of jobs.view_jobrecord's."""
    if getattr(user, "pk", None) == user_id or has(user, VIEW_JOBS):
        return None
    return "You may see only your own jobs. " + needs(VIEW_JOBS)


def sees_all_payouts(user) -> bool:
    """Holders of payouts.view_payout see every payout; everyone else their own payee account's."""
    return has(user, VIEW_PAYOUTS)


def refusal_to_request_payout(user, *, own_account: bool) -> str | None:
    """Anyone may request a payout from their own payee account; from any other, payouts.request_payout."""
    if own_account or has(user, REQUEST_PAYOUT):
        return None
    return "You may request payouts only from your own payee account. " + needs(REQUEST_PAYOUT)


def refusal_to_rerun(user, task) -> str | None:
    """Why ``user`` may not retry or requeue a job of ``task`` (None: unknown task), or None.
    Every re-run needs jobs.change_jobrecord; a money task's also needs the task's permission."""
    if not has(user, "jobs.change_jobrecord"):
        return needs("jobs.change_jobrecord")
    if task is not None and task.money and not (is_superuser(user) or (task.permission and has(user, task.permission))):
        return f"{task.name} moves money: re-running it {_needs(task.permission) if task.permission else 'is for superusers'}"
    return None
