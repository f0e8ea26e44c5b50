"""Notifications in the admin: what was sent to whom, and sending a failed one again."""

from django.contrib import admin

from jobs.admin import run_each
from notifications.models import Notification
from notifications.services import notification_retry


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "channel",
        "recipient",
        "template",
        "state",
        "delivery_status",
        "attempts",
        "created_at",
        "sent_at",
        "provider_message_id",
    )
    list_filter = ("channel", "state", "delivery_status", "template", ("created_at", admin.DateFieldListFilter))
    search_fields = ("recipient", "=provider_message_id", "dedup_key")
    readonly_fields = (
        "channel",
        "recipient",
        "template",
        "context",
        "state",
        "attempts",
        "provider_message_id",
        "delivery_status",
        "delivery_error",
        "delivery_updated_at",
        "error",
        "dedup_key",
        "job",
        "created_at",
        "sent_at",
    )
    actions = ["send_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission allows the "send again" action; a notification itself is never
        # edited, so its page is view-only for everyone.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Send failed notifications again", permissions=["change"])
    def send_again(self, request, queryset):
        run_each(self, request, queryset.values_list("pk", flat=True), notification_retry, "sent again", noun="notification")
