from celery import shared_task

from clinic import notices


@shared_task
def health_check(token: str) -> dict:
    """Echoes its token, so a caller knows a worker really picked the task up and answered."""
    return {"ok": True, "token": token}


@shared_task(ignore_result=True)
def send_due_notices() -> int:
    """Run by beat every minute: notices whose send failed are tried again (clinic/notices.py)."""
    return notices.send_due_notices()
