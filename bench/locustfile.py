"""The load mix for bench/load.py (locust, headless): API clients with a token and staff in
the admin with a session. Not imported by Django: locust runs it in its own process."""

from __future__ import annotations

import os
import random
import re

from locust import HttpUser, between, task

TOKEN = os.environ.get("LOAD_TOKEN", "")
STAFF = os.environ.get("LOAD_STAFF", "load:load")


class ApiClient(HttpUser):
    """A service using the REST API: lists, details, enqueues, queue stats."""

    weight = 4
    wait_time = between(0.05, 0.25)

    def on_start(self):
        self.client.headers["Authorization"] = f"Token {TOKEN}"
        self.ids: list[str] = []

    @task(5)
    def job_list(self):
        with self.client.get("/api/v1/jobs/?page_size=50", name="GET /api/v1/jobs/", catch_response=True) as response:
            if response.status_code == 200:
                self.ids = [job["id"] for job in response.json()["results"]][:20] or self.ids
                response.success()

    @task(3)
    def job_detail(self):
        if self.ids:
            self.client.get(f"/api/v1/jobs/{random.choice(self.ids)}/", name="GET /api/v1/jobs/<id>/")

    @task(2)
    def enqueue(self):
        self.client.post("/api/v1/jobs/", json={"task": "demo.noop"}, name="POST /api/v1/jobs/")

    @task(2)
    def queue_stats(self):
        self.client.get("/api/v1/queues/", name="GET /api/v1/queues/")


class Staff(HttpUser):
    """Someone in the admin: the dashboard's refresh and the job list, with a session."""

    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self):
        page = self.client.get("/admin/login/", name="GET /admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        username, password = STAFF.split(":", 1)
        self.client.post(
            "/admin/login/?next=/admin/",
            name="POST /admin/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
            headers={"Referer": self.host + "/admin/login/"},
        )

    @task(4)
    def dashboard_refresh(self):
        self.client.get("/admin/dashboard/live/", name="GET /admin/dashboard/live/")

    @task(2)
    def job_list(self):
        self.client.get("/admin/jobs/jobrecord/", name="GET /admin/jobs/jobrecord/")

    @task(1)
    def dashboard(self):
        self.client.get("/admin/dashboard/", name="GET /admin/dashboard/")
