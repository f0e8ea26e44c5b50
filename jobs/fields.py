"""Reading JSON columns so that whatever is stored can be shown.

SQLite stores a JSON string holding an unpaired surrogate (``"\\ud800"``); once read back,
every page that shows it fails to encode its answer as UTF-8, for everyone. Input is
refused at every entrance now (jobs.core.inputs), and this decoder is the other half: rows
written before, or by other means, come back with U+FFFD in place of the surrogate. The
check is a substring test on the raw text, so ordinary rows cost nothing more.
"""

from __future__ import annotations

import json

from jobs.core.inputs import scrub


class SafeJSONDecoder(json.JSONDecoder):
    def decode(self, s, *args, **kwargs):
        value = super().decode(s, *args, **kwargs)
        if "\\ud" in s or "\\uD" in s:  # an escaped surrogate (paired ones decode to one character)
            value = scrub(value)
        return value
