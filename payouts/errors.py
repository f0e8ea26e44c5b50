"""The payouts app's refusal: a FieldError naming the field (the API answers it as a 400)."""

from __future__ import annotations

from jobs.core.errors import FieldError


class PayoutError(FieldError):
    """Bad input or a refused action; ``field`` names what is wrong (the API returns it as a 400)."""
