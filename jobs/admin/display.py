"""Compact cells for admin list pages, so the columns that matter fit a 1,280 px screen
(tests/e2e/test_screens_browser.py): short times, and long text clipped with the whole of it
on hover."""

from __future__ import annotations

from django.utils import timezone
from django.utils.html import format_html


def compact_time(moment) -> str:
    """``2026-12-02 06:16`` in the server's time zone; "-" for none."""
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def clipped(text, length: int = 40):
    """At most ``length`` characters, the whole text in a tooltip; "-" for none."""
    text = "" if text is None else str(text)
    if not text:
        return "-"
    if len(text) <= length:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1])
