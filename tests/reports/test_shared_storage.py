"""Web and worker on separate machines, sharing no disk: files go only through an S3-compatible
object store (FILE_STORAGE=s3, django-storages). moto's S3 server stands in for the store; the
worker is a real `rqworker` process with its own working directory and MEDIA_ROOT; this test
process is the web side, with another. An import uploaded through the API is processed by the
worker, and a report the worker builds is downloaded through the API, by a signed link."""

import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from api.auth import token_create
from payouts.services import payee_create
from reports.models import Import, Report
from tests.reliability.procs import Processes, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BUCKET = "conveyor-files"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def object_store(settings, tmp_path):
    """A local S3 server with an empty bucket; this process's default storage pointed at it.
    Returns the environment a worker on another machine would be given."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "FILE_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test-key", aws_secret_access_key="test-secret"
    )
    client.create_bucket(Bucket=BUCKET)
    settings.FILE_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key": "test-key",
                "secret_key": "test-secret",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": settings.FILE_DOWNLOAD_URL_TTL,
                "file_overwrite": False,
            },
        },
    }
    settings.MEDIA_ROOT = str(tmp_path / "web-media")
    try:
        yield env, client
    finally:
        server.stop()


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_an_import_runs_on_a_worker_without_the_webs_disk_and_its_report_downloads_by_a_signed_link(
    object_store, django_user_model, tmp_path
):
    env, s3 = object_store
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw")
    ann = django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    payee_create(ann, currency="EUR", account="DE89370400440532013000")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(boss, 'test')[1]}")

    upload = SimpleUploadedFile("credits.csv", b"username,amount,reference\nann,5.00,shared-storage-1\n")
    created = api.post("/api/v1/imports/", {"kind": "ledger", "file": upload}, format="multipart")
    assert created.status_code == 201, created.content
    stored = Import.objects.get(pk=created.json()["id"]).file.name
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [stored]  # in the store, encrypted
    assert b"shared-storage-1" not in s3.get_object(Bucket=BUCKET, Key=stored)["Body"].read()

    worker_home, worker_media = tmp_path / "worker-cwd", tmp_path / "worker-media"
    worker_home.mkdir()
    procs = Processes(cwd=worker_home, MEDIA_ROOT=str(worker_media), **env)
    try:
        procs.worker("imports", "reports", "exports")
        wait_for(lambda: api.get(f"/api/v1/imports/{created.json()['id']}/").json()["created"] == 1, timeout=60, message="the import")

        requested = api.post("/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "ledger"}}, format="json")
        assert requested.status_code == 201, requested.content
        report_id = requested.json()["id"]
        wait_for(lambda: api.get(f"/api/v1/reports/{report_id}/").json()["state"] in ("done", "failed"), timeout=60, message="the report")
        assert api.get(f"/api/v1/reports/{report_id}/").json()["state"] == "done", api.get(f"/api/v1/reports/{report_id}/").json()
        assert not procs.dead(), procs.dead()
    finally:
        procs.stop_all()

    download = api.get(f"/api/v1/reports/{report_id}/download/")
    assert download.status_code == 302
    link = download["Location"]
    query = parse_qs(urlsplit(link).query)
    assert "X-Amz-Signature" in query and query["X-Amz-Expires"] == ["300"]
    fetched = requests.get(link, timeout=10)
    assert fetched.status_code == 200 and b"shared-storage-1" in fetched.content
    assert (
        fetched.headers["Content-Disposition"].startswith("attachment")
        and Report.objects.get(pk=report_id).file_name in fetched.headers["Content-Disposition"]
    )
    assert files_under(worker_media) == [] and files_under(Path(tmp_path / "web-media")) == []
