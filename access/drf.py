"""REST framework permission classes built from access.rules, so the API asks for exactly the
permission the admin screen for the same act asks for."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from access.rules import has, needs


def Needs(*perms: str) -> type[BasePermission]:  # noqa: N802 (a class factory)
    """The request's user holds every one of ``perms``. Anonymous: 401; otherwise 403 with a
    message naming the permissions to ask for."""

    class NeedsPermissions(BasePermission):
        required = perms
        message = needs(*perms)

        def has_permission(self, request, view):
            return has(request.user, *perms)

    NeedsPermissions.__name__ = NeedsPermissions.__qualname__ = "Needs(" + ", ".join(perms) + ")"
    return NeedsPermissions
