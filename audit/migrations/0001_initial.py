# The audit trail, taken over from the jobs app with its table (jobs_auditentry) and its rows:
# this creates the model in Django's state only. The content type moves from jobs to audit,
# so the permissions (audit.view_auditentry, ...) and every group that holds them survive.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import jobs.fields


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="audit", model="auditentry").exists():
        ContentType.objects.filter(app_label="jobs", model="auditentry").update(app_label="audit")


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="jobs", model="auditentry").exists():
        ContentType.objects.filter(app_label="audit", model="auditentry").update(app_label="jobs")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
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
