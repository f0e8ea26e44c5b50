#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Django is imported after DJANGO_SETTINGS_MODULE is set (the layout startproject gives manage.py).
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # a setting is missing or wrong: the message says which, a traceback adds nothing
        sys.exit(f"manage.py: {exc}")


if __name__ == "__main__":
    main()
