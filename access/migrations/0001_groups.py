"""The shipped groups (access/groups.py), with their permissions. Permissions are made here
first: Django creates them only after all migrations have run, and a fresh database needs
them now."""
from django.contrib.auth.management import create_permissions
from django.db import migrations


# Frozen here (a migration must not change when the code does); tests/access/test_groups.py
# checks that access/groups.py and the database agree.
READ_ONLY = [
    "jobs.view_jobrecord", "jobs.view_auditentry", "jobs.view_queuestate", "jobs.view_workerheartbeat",
    "jobs.view_schedule", "jobs.view_notification",
    "payouts.view_payee", "payouts.view_ledgerentry", "payouts.view_payout", "payouts.view_payoutrun",
    "payouts.view_recurringpayout", "payouts.view_reconciliationreport",
    "reports.view_report", "reports.view_import", "reports.view_userfigures",
]

OPERATORS = READ_ONLY + [
    "jobs.change_jobrecord",  # retry, cancel, requeue
    "jobs.delete_jobrecord",  # delete finished jobs, clean queues
    "jobs.enqueue_task", "jobs.pause_queue",
    "jobs.add_schedule", "jobs.change_schedule",
    "jobs.change_notification",  # send a failed notification again
    "django_rq.admin",
    "reports.add_report",
    "payouts.change_reconciliationreport",  # run a reconciliation, mark one reviewed
]

PAYOUT_APPROVERS = [
    "payouts.view_payee", "payouts.view_ledgerentry", "payouts.view_payout", "payouts.view_payoutrun",
    "payouts.approve_payout",
    "payouts.change_payout",  # cancel
]

FINANCE = [
    "payouts.view_payee", "payouts.view_ledgerentry", "payouts.view_payout", "payouts.view_payoutrun",
    "payouts.view_recurringpayout", "reports.view_import", "reports.view_report",
    "payouts.add_payee", "payouts.change_payee", "payouts.add_ledgerentry",
    "payouts.request_payout", "payouts.run_payouts",
    "payouts.add_recurringpayout", "payouts.change_recurringpayout",
    "reports.import_payees", "reports.import_ledger", "reports.add_report",
]

GROUPS = {
    "Read only": READ_ONLY,
    "Operators": OPERATORS,
    "Payout approvers": PAYOUT_APPROVERS,
    "Finance": FINANCE,
}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        found = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(found)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_rq", "0003_alter_dashboard_permission_names"),
        ("jobs", "0013_permissions"),
        ("payouts", "0005_permissions"),
        ("reports", "0005_permissions"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
