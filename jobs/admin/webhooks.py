"""Webhook endpoints and their delivery log in the admin (jobs.ops.webhooks, docs/events.md)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from jobs.models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint
from jobs.ops import webhooks


def _names(value: str) -> list[str]:
    return [part.strip() for part in (value or "").replace("\n", ",").split(",") if part.strip()]


class EndpointForm(forms.ModelForm):
    """Lists as comma-separated text; the secret write-only (kept when left empty on a change)."""

    url = forms.URLField(max_length=500, assume_scheme="https", help_text="Each delivery is a signed POST here (HTTPS in production).")
    events = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )
    queues = forms.CharField(required=False, help_text="Comma-separated queue names; empty: every queue.")
    tasks = forms.CharField(required=False, help_text="Comma-separated task names; empty: every task.")
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        min_length=16,
        max_length=200,
        help_text="At least 16 characters; signs every delivery. Write-only: leave empty to keep the current one.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("name", "url", "events", "queues", "tasks", "final_only", "secret", "enabled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["queues"] = ", ".join(self.instance.queues)
            self.initial["tasks"] = ", ".join(self.instance.tasks)

    def clean_queues(self):
        names = _names(self.cleaned_data["queues"])
        unknown = [n for n in names if n not in settings.CONVEYOR_QUEUES]
        if unknown:
            raise forms.ValidationError(f"No such queue: {', '.join(unknown)}.")
        return names

    def clean_tasks(self):
        return _names(self.cleaned_data["tasks"])

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if not secret and not self.instance.pk:
            raise forms.ValidationError("A new endpoint needs a secret.")
        return secret or self.instance.secret


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("name", "url", "enabled", "final_only", "created_at", "log")
    list_filter = ("enabled",)
    search_fields = ("name", "url")

    @admin.display(description="deliveries")
    def log(self, endpoint):
        url = reverse("admin:jobs_webhookdelivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">delivery log</a>', url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "endpoint", "event_type", "job_ref", "state", "attempts", "response_status", "delivered_at")
    list_filter = ("state", "event_type", "endpoint")
    search_fields = ("=event_id", "=job_ref")
    readonly_fields = (
        "endpoint",
        "event_id",
        "event_type",
        "job_ref",
        "payload",
        "state",
        "attempts",
        "response_status",
        "response_body",
        "error",
        "job",
        "created_at",
        "delivered_at",
    )
    fields = readonly_fields
    actions = ["deliver_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission allows "deliver again"; a delivery itself is never edited.
        return obj is None and super().has_change_permission(request)

    @admin.action(description="Deliver failed deliveries again", permissions=["change"])
    def deliver_again(self, request, queryset):
        from jobs.admin import run_each  # noqa: PLC0415  (jobs.admin imports this module)

        run_each(self, request, queryset.values_list("pk", flat=True), webhooks.deliver_again, "sent again", noun="delivery")
