# The audit trail, taken over from the jobs app with its table (jobs_auditentry) and its rows:
# this creates the model in Django's state only. The content type moves from jobs to audit,
# so the permissions (audit.view_auditentry, ...) and every group that holds them survive.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import jobs.fields


def move_content_type(apps, schema_editor):
    """The model's content type, and so its permissions, moves from jobs to audit. If audit already
    has one (post_migrate made it before this ran), the jobs one's grants move onto it."""
    _move(apps, "jobs", "audit")


def move_content_type_back(apps, schema_editor):
    _move(apps, "audit", "jobs")


def _move(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    LogEntry = apps.get_model("admin", "LogEntry")
    old = ContentType.objects.filter(app_label=source, model="auditentry").first()
    if old is None:
        return
    new = ContentType.objects.filter(app_label=target, model="auditentry").first()
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
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("jobs", "0015_auditentry_moves_to_audit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("actor_label", models.CharField(help_text="Username, or system:<process> for automatic actions.", max_length=150)),
                        ("action", models.CharField(max_length=64)),
                        ("object_type", models.CharField(max_length=64)),
                        ("object_id", models.CharField(db_index=True, max_length=64)),
                        ("reason", models.TextField(blank=True)),
                        ("details", models.JSONField(blank=True, decoder=jobs.fields.SafeJSONDecoder, default=dict)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={"verbose_name_plural": "audit entries", "ordering": ["-created_at"], "db_table": "jobs_auditentry"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
