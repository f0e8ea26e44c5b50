from jobs.core.registry import task
from notifications import services


@task("notifications.send", queue="notifications")
def send_notification(ctx, notification_id: int):
    """Deliver one notification (queue: emails for email, notifications for the other channels)."""
    return {"notification": notification_id, "state": services.send(notification_id, last_attempt=ctx.is_last_attempt)}
