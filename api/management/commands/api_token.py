from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.auth import token_create, token_revoke
from api.models import ApiToken


class Command(BaseCommand):
    help = (
        "API tokens: api_token create USERNAME [--name N] (prints the key once) | list [USERNAME] | revoke ID [--reason R]. "
        "Staff can do the same under Admin → API tokens."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("target", nargs="?", help="create/list: a username; revoke: a token id")
        parser.add_argument("--name", default="manage.py")
        parser.add_argument("--reason", default="")

    def handle(self, *args, action, target, name, reason, **options):
        if action == "list":
            tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
            if target:
                tokens = tokens.filter(user__username=target)
            for t in tokens:
                status = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                self.stdout.write(f"{t.pk:>5}  {t.user.get_username():20} {t.name:24} {t.prefix}…  {status}")
            return
        if not target:
            raise CommandError(f"{action} needs a {'username' if action == 'create' else 'token id'}")
        if action == "create":
            user = get_user_model().objects.filter(username=target, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user {target!r}")
            token, key = token_create(user, name, actor="system:manage.py")
            self.stderr.write(f"token {token.pk} for {target}; the key is not shown again:")
            self.stdout.write(key)
            return
        if not target.isdigit() or not ApiToken.objects.filter(pk=int(target)).exists():
            raise CommandError(f"no token with id {target!r}")
        token_revoke(int(target), actor="system:manage.py", reason=reason)
        self.stdout.write(f"token {target} revoked")
