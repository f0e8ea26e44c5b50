"""Conveyor settings, one module per concern. The environment is read in them, once, through
config/env.py; .env.example lists every variable. A bad value stops start-up naming it."""

from config.settings.api import *  # noqa: F401,F403
from config.settings.environment import *  # noqa: F401,F403  (DJANGO_ENV, secrets, hosts: read first)
from config.settings.logs import *  # noqa: F401,F403
from config.settings.messaging import *  # noqa: F401,F403  (email, notification channels)
from config.settings.money import *  # noqa: F401,F403  (payouts, providers, interest)
from config.settings.platform import *  # noqa: F401,F403  (the job platform: queues, workers, schedulers)
from config.settings.security import *  # noqa: F401,F403
from config.settings.services import *  # noqa: F401,F403  (Redis, the database, caches, sessions)
from config.settings.web import *  # noqa: F401,F403  (apps, middleware, templates, files)
