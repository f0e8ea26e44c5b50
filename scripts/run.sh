#!/bin/sh
# `make run`, inside with_services.py (REDIS_URL is set by now).
set -e
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py seed_demo
slots=$(python -c "from django.conf import settings; import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup(); print(settings.WORKER_CONCURRENCY)")
workers=$(python -c "from django.conf import settings; import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings'); django.setup(); print(settings.WORKER_INSTANCES)")
cat <<MSG

  Conveyor is starting: web, ${workers} worker process(es) of ${slots} slots each, scheduler.
    Admin:          http://127.0.0.1:${PORT}/admin/            (login: demo / demo)
    Dashboard:      http://127.0.0.1:${PORT}/admin/dashboard/
    Jobs:           http://127.0.0.1:${PORT}/admin/jobs/jobrecord/
    RQ dashboard:   http://127.0.0.1:${PORT}/admin/django_rq/dashboard/
    API docs:       http://127.0.0.1:${PORT}/api/v1/docs/
    Health:         http://127.0.0.1:${PORT}/health/ready
  From a second terminal (it finds this run's Redis and database):
    .venv/bin/python manage.py enqueue_job demo.sleep --kwargs '{"seconds": 5}'
    .venv/bin/python manage.py api_token create demo
  Stop with Ctrl-C.

MSG
exec honcho start -c worker=${workers} web worker scheduler
