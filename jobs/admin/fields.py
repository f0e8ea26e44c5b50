"""Form fields shared by the admin screens."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from jobs.core import inputs
from jobs.core.errors import FieldError


class SafeJSONFormField(forms.JSONField):
    """Django's JSON form field, refusing what the API refuses (jobs.core.inputs.check_json): JSON too
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


def add_field_error(form, exc: FieldError, aliases: dict | None = None) -> None:
    """Show a service's FieldError on the form field it names (``aliases`` maps a service's
    field to the form's, e.g. ``{"file": "upload"}``; a dotted path is shown on its first part).
    A field the form does not have: a form-wide error that still names it."""
    name = (aliases or {}).get(exc.field, exc.field.split(".")[0])
    if name in form.fields:
        form.add_error(name, exc.message)
    else:
        form.add_error(None, f"{exc.field}: {exc.message}")
