"""The groups Conveyor ships (created by access/migrations/0001_groups.py; docs/api.md has
the table). Give people a group in the admin (Users -> Groups) rather than single
permissions; a person in several groups holds the union. Staff status is still needed to
log in to the admin, and grants nothing by itself.

The split keeps money in two hands: Finance puts money in and asks for payouts, Payout
approvers release the ones above the approval threshold, Operators run the job platform and
touch no money. Superusers hold everything.
"""

from __future__ import annotations

READ_ONLY = [
    "jobs.view_jobrecord",
    "audit.view_auditentry",
    "jobs.view_queuestate",
    "jobs.view_workerheartbeat",
    "jobs.view_schedule",
    "notifications.view_notification",
    "payouts.view_payee",
    "payouts.view_ledgerentry",
    "payouts.view_payout",
    "payouts.view_payoutrun",
    "payouts.view_recurringpayout",
    "payouts.view_reconciliationreport",
    "reports.view_report",
    "reports.view_import",
    "reports.view_userfigures",
]

OPERATORS = READ_ONLY + [
    "jobs.change_jobrecord",  # retry, cancel, requeue
    "jobs.delete_jobrecord",  # delete finished jobs, clean queues
    "jobs.enqueue_task",
    "jobs.pause_queue",
    "jobs.add_schedule",
    "jobs.change_schedule",
    "notifications.change_notification",  # send a failed notification again
    "django_rq.admin",
    "reports.add_report",
    "payouts.change_reconciliationreport",  # run a reconciliation, mark one reviewed
]

PAYOUT_APPROVERS = [
    "payouts.view_payee",
    "payouts.view_ledgerentry",
    "payouts.view_payout",
    "payouts.view_payoutrun",
    "payouts.approve_payout",
    "payouts.change_payout",  # cancel
]

FINANCE = [
    "payouts.view_payee",
    "payouts.view_ledgerentry",
    "payouts.view_payout",
    "payouts.view_payoutrun",
    "payouts.view_recurringpayout",
    "reports.view_import",
    "reports.view_report",
    "payouts.add_payee",
    "payouts.change_payee",
    "payouts.add_ledgerentry",
    "payouts.request_payout",
    "payouts.run_payouts",
    "payouts.add_recurringpayout",
    "payouts.change_recurringpayout",
    "reports.import_payees",
    "reports.import_ledger",
    "reports.add_report",
]

GROUPS = {
    "Read only": READ_ONLY,
    "Operators": OPERATORS,
    "Payout approvers": PAYOUT_APPROVERS,
    "Finance": FINANCE,
}
