"""Settings for `make screenshots`: the app's own, with nothing leaving the throwaway clinic. Tasks go to an
in-memory broker (nobody consumes them; a shared var/broker/ would hand them to a developer's worker, with
ids from another database) and mail stays in memory."""

from clinic.settings import *  # noqa: F403

CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
