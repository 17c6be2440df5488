from celery import shared_task


@shared_task
def health_check(token: str) -> dict:
    """Echoes its token, so a caller knows a worker really picked the task up and answered."""
    return {"ok": True, "token": token}
