from django.urls import path

from jobs.api import stream, views

urlpatterns = [
    path("queues/", views.queues, name="api-queues"),
    path("queues/<str:name>/", views.queue_detail, name="api-queue"),
    path("queues/<str:name>/pause/", views.queue_pause, name="api-queue-pause"),
    path("queues/<str:name>/resume/", views.queue_resume, name="api-queue-resume"),
    path("queues/<str:name>/clean/", views.queue_clean, name="api-queue-clean"),
    path("jobs/", views.jobs, name="api-jobs"),
    path("jobs/recent/", views.jobs_recent, name="api-jobs-recent"),
    path("jobs/failed/", views.jobs_failed, name="api-jobs-failed"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="api-job"),
    path("jobs/<uuid:job_id>/events/", stream.job_events, name="api-job-events"),
    path("jobs/<uuid:pk>/retry/", views.job_retry, name="api-job-retry"),
    path("jobs/<uuid:pk>/cancel/", views.job_cancel, name="api-job-cancel"),
    path("jobs/<uuid:pk>/requeue/", views.job_requeue, name="api-job-requeue"),
    path("users/<id:user_id>/jobs/", views.user_jobs, name="api-user-jobs"),
    path("dead-letter/", views.dead_letter, name="api-dead-letter"),
    path("dead-letter/requeue/", views.dead_letter_requeue, name="api-dead-letter-requeue"),
]
