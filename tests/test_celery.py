import uuid

import pytest
from celery.contrib.testing.worker import start_worker

from clinic.celery import app
from clinic.tasks import health_check

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_answers_the_health_task_through_redis():
    assert app.conf.broker_url.startswith("redis://")
    token = uuid.uuid4().hex
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = health_check.delay(token)
        assert result.get(timeout=20) == {"ok": True, "token": token}
