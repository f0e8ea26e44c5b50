"""Form fields shared by the admin screens."""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from jobs import inputs
from jobs.errors import FieldError


class SafeJSONFormField(forms.JSONField):
    """Django's JSON form field, refusing what the API refuses (jobs.inputs.check_json): JSON too
    deep to parse (a RecursionError, i.e. a 500, in the stock field), unpaired surrogates,
    integers beyond a bigint, NaN."""

    def to_python(self, value):
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError("The JSON is nested too deeply.", code="invalid") from None
        try:
            inputs.check_json(converted, "value")
        except FieldError as exc:
            raise ValidationError(f"{exc.field}: {exc.message}", code="invalid") from None
        return converted
