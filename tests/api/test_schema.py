"""The OpenAPI schema (drf-spectacular) is valid, served with its docs page, and fuzzed by
schemathesis: generated valid and invalid inputs for every operation, sent as a superuser
through the real WSGI stack, never answer 500, and every answer matches the schema.

SCHEMATHESIS_MAX_EXAMPLES (default 25) sets the examples per operation and mode."""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode, checks

from api.auth import token_create
from jobs.ops.enqueue import enqueue

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True)

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance, checks.response_schema_conformance]


@pytest.fixture
def superuser_key(transactional_db, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    enqueue("test.count", kwargs={"key": "x"}, created_by=root)  # something to list
    return token_create(root, "schemathesis")[1]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_answers_500_and_answers_match_the_schema(case, superuser_key):
    case.call_and_validate(headers={"Authorization": f"Token {superuser_key}"}, checks=CHECKS)


def test_the_schema_is_valid_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/queues/{name}/clean/" in (tmp_path / "schema.yaml").read_text()


def test_schema_and_docs_page_are_served(db):
    client = APIClient()
    assert client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["info"]["title"] == "Conveyor API"
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200 and b"swagger-ui" in page.content
