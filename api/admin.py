"""API tokens in the admin: made here (the key shown once), revoked here."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from access import rules
from api.auth import token_create, token_revoke
from api.models import ApiToken
from jobs.admin import run_each


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Create a token here: its key is shown once, on the page after "Save" (never in a message,
    which would travel in a cookie). Anyone with add_apitoken makes tokens for themselves; only a
    superuser makes one for another user. A token acts as its user, with exactly the user's
    permissions at the time of each request: never more."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "user__username")
    fields = ("user", "name")
    actions = ["revoke"]

    def get_autocomplete_fields(self, request):
        return ("user",) if rules.is_superuser(request.user) else ()

    def get_readonly_fields(self, request, obj=None):
        return ("user", "name") if obj else ()

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "user": request.user.pk}

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not rules.is_superuser(request.user):
            kwargs["queryset"] = get_user_model().objects.filter(pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if obj.user_id != request.user.pk and not rules.is_superuser(request.user):
            raise PermissionDenied("Only a superuser creates a token for another user.")

        token, key = token_create(obj.user, obj.name, actor=request.user)
        obj.pk = token.pk
        obj.new_key = key

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "token": obj,
            "key": obj.new_key,
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/api/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke", permissions=["change"])
    def revoke(self, request, queryset):
        run_each(self, request, queryset.values_list("pk", flat=True), token_revoke, "revoked", noun="token")
