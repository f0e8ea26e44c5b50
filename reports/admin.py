from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from jobs.services import audit
from reports.services import analytics_fan_out

User = get_user_model()


class ConveyorUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, "run_analytics"]

    @admin.action(description="Run per-user analytics now")
    def run_analytics(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        result = analytics_fan_out(ids, created_by=request.user)
        audit(request.user, "analytics.run_now", "users", ",".join(map(str, ids))[:64], details=result)
        self.message_user(
            request, f"Analytics: {result['enqueued']} job(s) enqueued, {result['already_waiting']} already waiting.", messages.SUCCESS
        )


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ConveyorUserAdmin)
