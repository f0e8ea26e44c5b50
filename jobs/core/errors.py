"""The one error shape for refused input: a field name and a message.

Every surface turns a FieldError into the same answer: the API a 400 ``{field: [message]}``
(api.handlers), the admin a form error on that field, a command a CommandError. The
domain errors (InvalidJob, PayoutError, ReportError, NotificationError) are FieldErrors, so
nothing refused by a service can reach a user as a 500. Pure: no Django imports.
"""

from __future__ import annotations


class FieldError(ValueError):
    """Bad input. ``field`` names what is wrong (a dotted path inside JSON, e.g. ``kwargs.user_id``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidJob(FieldError):
    """Bad enqueue input. ``field`` names the argument at fault."""


class JobStateError(FieldError):
    """The requested action does not apply to the job in its current state: a refusal about the
    job's ``state`` (the API answers 400 ``{"state": [message]}``)."""

    def __init__(self, message: str):
        super().__init__("state", message)

    def __str__(self) -> str:
        return self.message
