# Notifications, taken over from the jobs app with their table (jobs_notification) and rows:
# this creates the model in Django's state only. The content type moves from jobs to
# notifications, so the permissions and every group that holds them survive (decision 42).
import django.db.models.deletion
from django.db import migrations, models

import jobs.fields


def move_content_type(apps, schema_editor):
    """The model's content type, and so its permissions, moves from jobs to notifications. If notifications already
    has one (post_migrate made it before this ran), the jobs one's grants move onto it."""
    _move(apps, "jobs", "notifications")


def move_content_type_back(apps, schema_editor):
    _move(apps, "notifications", "jobs")


def _move(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    LogEntry = apps.get_model("admin", "LogEntry")
    old = ContentType.objects.filter(app_label=source, model="notification").first()
    if old is None:
        return
    new = ContentType.objects.filter(app_label=target, model="notification").first()
    if new is None:
        ContentType.objects.filter(pk=old.pk).update(app_label=target)
        return
    for perm in Permission.objects.filter(content_type=old):
        twin = Permission.objects.filter(content_type=new, codename=perm.codename).first()
        if twin is None:
            Permission.objects.filter(pk=perm.pk).update(content_type=new)
            continue
        for group in perm.group_set.all():
            group.permissions.add(twin)
        for user in perm.user_set.all():
            user.user_permissions.add(twin)
        perm.delete()
    LogEntry.objects.filter(content_type=old).update(content_type=new)
    old.delete()


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("jobs", "0016_notification_moves_to_notifications"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "channel",
                            models.CharField(
                                choices=[("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("push", "Push")], max_length=16
                            ),
                        ),
                        ("recipient", models.CharField(max_length=255)),
                        (
                            "template",
                            models.CharField(help_text="Under templates/notifications/: <name>.txt (first line: subject).", max_length=100),
                        ),
                        ("context", models.JSONField(blank=True, decoder=jobs.fields.SafeJSONDecoder, default=dict)),
                        (
                            "state",
                            models.CharField(
                                choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                                db_index=True,
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("provider_message_id", models.CharField(blank=True, max_length=100)),
                        ("error", models.TextField(blank=True)),
                        (
                            "dedup_key",
                            models.CharField(
                                blank=True,
                                help_text="At most one notification per key (e.g. one notice per payout outcome).",
                                max_length=200,
                                null=True,
                                unique=True,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "job",
                            models.ForeignKey(
                                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="jobs.jobrecord"
                            ),
                        ),
                    ],
                    options={"db_table": "jobs_notification", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
