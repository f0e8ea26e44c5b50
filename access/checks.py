"""System checks that read the middleware route groups (config/middleware.py).

Django's own checks look for CSRF, clickjacking and the admin's middleware in MIDDLEWARE,
where only the router sits, so they are silenced in settings and made here instead, against
the chains that really run: every group that has sessions must also have CSRF protection,
authentication, messages and the clickjacking header; the default group (the admin) must
have sessions.
"""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register

SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
WITH_SESSIONS = (
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


@register(Tags.security, Tags.admin)
def route_groups_protect_sessions(app_configs=None, **kwargs):
    errors = []
    groups = {name: chain for name, _, _, chain in getattr(settings, "MIDDLEWARE_GROUPS", [])}
    if groups and SESSIONS not in groups.get("default", []):
        errors.append(Error("The default middleware group has no SessionMiddleware; the admin needs it.", id="access.E001"))
    for name, chain in groups.items():
        if SESSIONS in chain:
            for needed in WITH_SESSIONS:
                if needed not in chain:
                    errors.append(Error(f"Middleware group {name!r} uses sessions without {needed}.", id="access.E002"))
    return errors
