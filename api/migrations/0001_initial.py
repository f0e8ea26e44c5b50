# API tokens, taken over from the jobs app with their table (jobs_apitoken) and rows: this
# creates the model in Django's state only. The content type moves from jobs to api, so the
# permissions (api.add_apitoken, ...) and every group or user that holds them survive.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    """The model's content type, and so its permissions, moves from jobs to api. If api already
    has one (post_migrate made it before this ran), the jobs one's grants move onto it."""
    _move(apps, "jobs", "api")


def move_content_type_back(apps, schema_editor):
    _move(apps, "api", "jobs")


def _move(apps, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    LogEntry = apps.get_model("admin", "LogEntry")
    old = ContentType.objects.filter(app_label=source, model="apitoken").first()
    if old is None:
        return
    new = ContentType.objects.filter(app_label=target, model="apitoken").first()
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
        ("jobs", "0017_apitoken_moves_to_api"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(help_text="What the token is for, e.g. 'billing service'.", max_length=100)),
                        ("prefix", models.CharField(db_index=True, help_text="The key's first characters, to recognise it.", max_length=12)),
                        ("key_hash", models.CharField(max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="api_tokens", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                    ],
                    options={"db_table": "jobs_apitoken", "ordering": ["-created_at"]},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
