"""The no-op function bare RQ runs in the benchmark (no Django, no tracking)."""


def noop():
    return None
