"""Following one job without polling: ``GET /api/v1/jobs/<id>/events/``, Server-Sent Events.

The same authorisation as the job's detail endpoint (your own jobs; any with
jobs.view_jobrecord), by API token or session. The stream sends the job as it is now
(``event: state``), then ``event: progress`` at each change of its progress and ``event: state``
at each change of state (retrying, running again...), and ``event: end`` with the final state,
result or error when it ends, then closes. A comment line keeps idle connections open; after
SSE_MAX_DURATION the server closes and the browser's EventSource reconnects by itself (the
``retry`` field), getting the current state again.

The web process reads the job's row every SSE_POLL_INTERVAL: a stream costs one indexed
primary-key read per interval and holds one web thread (run gunicorn with threads: the
Procfile does).
"""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from rest_framework import permissions
from rest_framework.decorators import api_view, permission_classes, renderer_classes
from rest_framework.renderers import BaseRenderer, JSONRenderer

from api.schema import doc
from jobs.core.states import TERMINAL
from jobs.models import JobRecord
from jobs.ops import selectors

KEEPALIVE = 15.0  # seconds between comment lines on a quiet stream
FIELDS = ("state", "progress", "progress_message", "attempts", "result", "last_error", "finished_at")


class EventStreamRenderer(BaseRenderer):
    """Lets DRF accept ``Accept: text/event-stream``; the view answers with its own stream."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()  # only errors (401, 404) come through here


def _message(event: str, data: dict, number: int) -> str:
    return f"id: {number}\nevent: {event}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def _events(job_id, *, poll: float, limit: float, clock=time.monotonic):
    started = last_sent = clock()
    number = 0
    previous = None
    yield "retry: 2000\n\n"
    while True:
        row = JobRecord.objects.filter(pk=job_id).values(*FIELDS).first()
        if row is None:
            number += 1
            yield _message("end", {"state": "deleted"}, number)
            return
        snapshot = {"state": row["state"], "progress": row["progress"], "message": row["progress_message"], "attempt": row["attempts"]}
        if previous is None or snapshot["state"] != previous["state"]:
            number += 1
            yield _message("state", snapshot, number)
            last_sent = clock()
        elif (snapshot["progress"], snapshot["message"]) != (previous["progress"], previous["message"]):
            number += 1
            yield _message("progress", {"progress": snapshot["progress"], "message": snapshot["message"]}, number)
            last_sent = clock()
        previous = snapshot
        if row["state"] in TERMINAL:
            number += 1
            end = {"state": row["state"], "finished_at": row["finished_at"]}
            end.update({"result": row["result"]} if row["state"] == "succeeded" else {"error": row["last_error"]})
            yield _message("end", end, number)
            return
        if clock() - started >= limit:
            return  # the client reconnects (retry above) and gets the current state
        if clock() - last_sent >= KEEPALIVE:
            yield ": keep-alive\n\n"
            last_sent = clock()
        time.sleep(poll)


@doc("jobs", "Follow one job: Server-Sent Events of its state, progress and end", None, errors=(401, 404), methods=["GET"])
@api_view(["GET"])
@renderer_classes([EventStreamRenderer, JSONRenderer])
@permission_classes([permissions.IsAuthenticated])
def job_events(request, job_id):
    job = get_object_or_404(selectors.visible_jobs(request.user).only("pk"), pk=job_id)
    response = StreamingHttpResponse(
        _events(job.pk, poll=settings.SSE_POLL_INTERVAL, limit=settings.SSE_MAX_DURATION), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: do not buffer the stream
    return response
