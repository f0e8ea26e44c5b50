"""The admin site, whose registrations load when the admin is first used.

Django's AdminConfig imports every app's admin.py while the process starts. A worker or the
scheduler never serves a page, yet would carry every ModelAdmin, the dashboard views and
django-rq's stats views (and through them prometheus_client): about 2.5 MB of an idle worker's
RSS (docs/decisions.md 53). Here the site discovers the apps' admin modules on first use:
building its URLs (the web's URLconf, any `reverse("admin:...")`), running its system checks
(`manage.py check`), or reading its registry through `registry()`.
"""

import threading

from django.contrib.admin import AdminSite, autodiscover
from django.contrib.admin.apps import SimpleAdminConfig

_lock = threading.RLock()
_discovered = False  # set once discovery has finished: other threads never see a partial registry
_discovering = False  # seen only by the thread holding the lock: an admin module reading the site


def discover() -> None:
    """Import every installed app's admin module once per process. Thread-safe: another thread
    waits on the lock until discovery is done. Re-entrant: an admin module that reads the site
    while it loads (the same thread, holding the lock) does not start a second discovery."""
    global _discovered, _discovering
    if _discovered:
        return
    with _lock:
        if _discovered or _discovering:
            return
        _discovering = True
        try:
            autodiscover()
            _discovered = True
        finally:
            _discovering = False


class ConveyorAdminSite(AdminSite):
    def get_urls(self):
        discover()
        return super().get_urls()

    def check(self, app_configs):
        discover()
        return super().check(app_configs)

    def registry(self) -> dict:
        """The registered models and their ModelAdmins, after discovery."""
        discover()
        return self._registry


class ConveyorAdminConfig(SimpleAdminConfig):
    """django.contrib.admin without the start-up autodiscovery (ConveyorAdminSite does it)."""

    default = False
    default_site = "config.admin_site.ConveyorAdminSite"
