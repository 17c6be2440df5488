"""/health/: is this instance able to serve? For the container's HEALTHCHECK, load balancers and monitors.

django-health-check runs the checks (concurrently, each with its own time-out) and renders the answer as
HTML, JSON (`Accept: application/json` or `?format=json`), text or OpenMetrics. Checked: the database
(`SELECT 1`), the Celery broker (a Redis ping, when the broker is Redis: the filesystem broker of `make run`
has nothing to ping) and the cache (a write and a read). Celery workers are not: a web instance stays in the
load balancer while a worker restarts; the worker's own container health check pings it (docs/operations.md).

Open to anyone, signed in or not, like the sign-in page: it shows only which service fails, never data.
A failing check answers 503 (Service Unavailable), which load balancers read as "take me out".
"""

import datetime

from django.conf import settings
from health_check.checks import Cache, Database
from health_check.contrib.redis import Redis
from health_check.views import HealthCheckView
from redis.asyncio import Redis as AsyncRedis

CHECK_TIMEOUT = datetime.timedelta(seconds=3)


def broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://"))


class ClinicHealthView(HealthCheckView):
    def get_checks(self):
        yield Database(alias="default")
        yield Cache(alias="default", timeout=CHECK_TIMEOUT)
        if broker_is_redis():
            # Read at each request, not at import: the broker's address is a setting.
            broker_url = settings.CELERY_BROKER_URL
            timeout = CHECK_TIMEOUT.total_seconds()
            yield Redis(
                client_factory=lambda: AsyncRedis.from_url(
                    broker_url, socket_connect_timeout=timeout, socket_timeout=timeout
                )
            )

    async def dispatch(self, request, *args, **kwargs):
        response = await super().dispatch(request, *args, **kwargs)
        if response.status_code == 500:  # the library's "a check failed"
            response.status_code = 503
        return response


health = ClinicHealthView.as_view()
