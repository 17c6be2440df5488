"""Beat tasks of payments. Short, and safe to run twice or at once (each hold and refund is locked)."""

from celery import shared_task


@shared_task(ignore_result=True)
def release_lapsed_holds() -> int:
    """Every minute: online bookings whose deposit was not paid in time are released, their time freed."""
    from . import services

    return services.release_lapsed_holds()


@shared_task(ignore_result=True)
def send_pending_refunds() -> int:
    """Every 5 minutes: refunds the provider did not accept yet (it was down) are sent again, same key."""
    from . import services

    return services.send_pending_refunds()


@shared_task(ignore_result=True)
def send_due_document_emails() -> int:
    """Every minute: receipts and invoices whose email is owed and due (a first try that failed, backed off)."""
    from . import documents

    return documents.send_due_document_emails()
