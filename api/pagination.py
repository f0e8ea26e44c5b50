"""Cursor pagination for every list endpoint: newest first, a bad page_size or cursor is a 400 naming it."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from jobs.core import inputs


class CreatedCursorPagination(CursorPagination):
    """Cursor pages, newest first; a bad page_size or cursor is a 400 naming it."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return inputs.parse_count(raw, "page_size", minimum=1, maximum=self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["not a cursor from a next or previous link"]}) from None
