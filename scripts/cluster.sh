#!/bin/sh
# `make cluster`, inside with_services.py: prepare once, then scripts/cluster.py.
set -e
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py seed_demo
exec python scripts/cluster.py
