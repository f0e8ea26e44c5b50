"""Writing the audit trail: one AuditEntry per staff (or system) action, written by the service that acts."""

from __future__ import annotations

from audit.models import AuditEntry


def audit(actor, action: str, object_type: str, object_id, reason: str = "", **details) -> AuditEntry:
    """Record a staff (or system) action. ``actor`` is a user, or a label like "system:scheduler"."""
    label = getattr(actor, "get_username", lambda: "")() if actor is not None else ""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=label or (actor if isinstance(actor, str) else "system"),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        details=details,
    )
