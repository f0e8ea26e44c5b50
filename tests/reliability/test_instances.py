"""Two web instances side by side, sharing Redis and the database: a session made on one works
on the other, and a logout on one ends it on both (sessions live in Redis)."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.reliability.procs import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser(jar):
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def status(opener, url, data=None, headers=None):
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode() if data else None, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def up(base):
    try:
        with urllib.request.urlopen(base + "/health/live", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_session_follows_the_user_across_instances_and_logout_ends_it_everywhere(processes, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-123")
    ports = [free_port(), free_port()]
    for port in ports:
        processes.start("runserver", f"127.0.0.1:{port}", "--noreload")
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    wait_for(lambda: up(a) and up(b), timeout=60, interval=0.2, message="both web instances")

    jar = http.cookiejar.CookieJar()
    client = browser(jar)
    code, page = status(client, a + "/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    code, _ = status(
        client,
        a + "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": token, "username": "ops", "password": "pw-123"},
        headers={"Referer": a + "/admin/login/"},
    )
    assert code == 302, "login on instance A"
    assert status(client, b + "/admin/")[0] == 200, "the session made on A works on B"

    csrf = next(c.value for c in jar if c.name == "csrftoken")
    assert status(client, a + "/admin/logout/", {"csrfmiddlewaretoken": csrf}, headers={"Referer": a + "/admin/"})[0] in (200, 302)
    assert status(client, b + "/admin/")[0] == 302, "logged out on A: B sends the user to the login page"
