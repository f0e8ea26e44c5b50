"""Tasks written against Django's standard Tasks API (django_tasks, django.tasks in Django 6),
for tests/jobs/test_standard_tasks.py. Nothing here knows about Conveyor."""

from django_tasks import task

from jobs.transport.redis import get_redis


class Refused(Exception):
    pass


@task()
def add(a: int, b: int) -> int:
    get_redis().incr("test:runs:std-add")
    return a + b


@task(queue_name="emails", priority=10)
def greet(name: str) -> dict:
    return {"hello": name}


@task()
def refuse(reason: str) -> None:
    raise Refused(reason)


@task(takes_context=True)
def attempt_number(context, fail_until: int = 0) -> int:
    if context.attempt <= fail_until:
        raise RuntimeError(f"attempt {context.attempt} fails on purpose")
    return context.attempt
