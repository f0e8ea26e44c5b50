"""An rq.cron configuration, as a django-rq project has it (tests/jobs/test_rq_import.py)."""

from rq import cron

from tests.sample_tasks import count
from tests.standard_tasks import add

cron.register(count, "default", kwargs={"key": "cron-count"}, interval=120)
cron.register(add.func, "reports", args=(1, 2), cron="0 6 * * *")
