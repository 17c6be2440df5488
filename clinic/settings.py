"""Settings for Clinic, read from the environment.

Every value has a safe production default (DEBUG off, secure cookies when DEBUG is off) except the
conveniences `make run` needs on a bare machine: SQLite under var/ and a Celery broker that needs no
server. Set DATABASE_URL / REDIS_URL to use PostgreSQL and Redis.
"""

import os
from decimal import Decimal
from email.utils import formataddr, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# The folder with templates/, static/ and var/: the checkout, or CLINIC_APP_DIR where the code is installed as
# a package elsewhere (the image installs it into site-packages and keeps those folders in /app).
BASE_DIR = Path(os.environ.get("CLINIC_APP_DIR") or Path(__file__).resolve().parent.parent)
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Required when DEBUG is off: refusing to start beats signing cookies with a known key.
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production") if DEBUG else env("SECRET_KEY")

# Every absolute link in emails, texts and calendar files is built from this (clinic/links.py). `make run`
# sets it from its own host and port; production must set it (refusing to start beats sending dead links).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "")
if not SITE_URL:
    raise ImproperlyConfigured("Set SITE_URL (e.g. https://book.clinic.example): links in messages are built from it.")
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.netloc or _site.path not in ("", "/") or _site.query:
    raise ImproperlyConfigured(
        f"SITE_URL must be a scheme and a host, e.g. https://book.clinic.example (not {SITE_URL!r})."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Behind our own TLS-terminating proxy: trust its X-Forwarded-* headers (client address, https).
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
CLINIC_NAME = env("CLINIC_NAME", default="Smooth Skin Clinic")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "auditlog",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "drf_spectacular",
    "health_check",
    # The project's apps, lowest layer first (docs/architecture.md): each imports only those above it here.
    "clinic",
    "consultations",
    "bookings",
    "practice",
    "operations",
    "payments",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "clinic.backends.AuthenticationMiddleware",  # Django's, the user read with the session
    "django_otp.middleware.OTPMiddleware",
    "clinic.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clinic.csp.CSPMiddleware",
    "clinic.middleware.StaffIdleTimeoutMiddleware",
    "clinic.middleware.BusyMiddleware",
    "axes.middleware.AxesMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.clinic",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file under `make run`: wait for locks instead of failing, and take
    # the write lock at BEGIN so a read-then-write transaction cannot deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    # The covering indexes' INCLUDE columns are a PostgreSQL speed-up; SQLite builds the index without them.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Off: a SELECT 1 before each request's first query was a second round trip for a cached availability
    # answer. Without it a connection that died since its last use (a PostgreSQL restart) fails its request at
    # the first query, before anything is written, and is replaced for the next (docs/settings.md).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "clinic.User"
# django-axes first: it refuses a locked-out user before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "clinic.backends.UserBackend"]
# Lock an account from one address after 5 failures in a row, for 15 minutes (an admin can unlock sooner
# in Django admin, Axes > Access attempts). Locking by username alone would let anyone lock a patient out;
# by address alone would lock out a whole clinic behind one router.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_USERNAME_FORM_FIELD = "username"  # the login form field, though the user model logs in by email
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address, through django-ipware (axes ignores every AXES_IPWARE_* setting without it). Served
# directly, only the connection's address counts: a header the client writes would let it pick a fresh
# address per guess. Behind the TLS proxy (BEHIND_PROXY=1), which sets X-Forwarded-For to the address it
# saw (docs/operations.md), that header names the client; AXES_PROXY_COUNT counts further proxies listed in
# it (a CDN in front: 1). A header with more entries than that was partly written by the client: ipware's
# strict check refuses it and the proxy's own address counts instead, so forging one buys nothing.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_ORDER = "left-most"
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if BEHIND_PROXY else ["REMOTE_ADDR"]
# The audit trail (clinic/audit.py). The client address is only trusted behind our own proxy.
AUDITLOG_DISABLE_REMOTE_ADDR = not BEHIND_PROXY
OTP_TOTP_ISSUER = CLINIC_NAME
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "start"  # each role's working page (clinic.views.start)
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time and language ----------------------------------------------------------------------------
# Stored in UTC; shown in the clinic's zone, which is also Django's default current zone.
LANGUAGE_CODE = "en-gb"
CLINIC_TIME_ZONE = env("CLINIC_TIME_ZONE", default="Europe/London")
TIME_ZONE = CLINIC_TIME_ZONE
USE_I18N = True
USE_TZ = env.bool("USE_TZ", default=True)

# --- Static and media -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Clinical photos: outside MEDIA_ROOT and never given a URL; served only by a view that checks who asks.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=VAR_DIR / "private")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# With DEBUG, WhiteNoise finds each file when it is asked for (its default under runserver). Said here
# because the test runner turns settings.DEBUG off: WhiteNoise would then walk and stat every finder's files
# for each new middleware chain, once per test client (3% of the suite's Python CPU, docs/testing.md).
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ----------------------------------------------------------------------------------------
# Default: every message is written to var/mail/ so it can be read without a mail server.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# The From name is always the clinic's name; DEFAULT_FROM_EMAIL gives the address (a name in it is replaced).
_FROM_ADDRESS = parseaddr(env("DEFAULT_FROM_EMAIL", default="bookings@clinic.example"))[1]
DEFAULT_FROM_EMAIL = formataddr((CLINIC_NAME, _FROM_ADDRESS))
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- The clinic -----------------------------------------------------------------------------------
CLINIC = {
    "NAME": CLINIC_NAME,
    "ADDRESS": env("CLINIC_ADDRESS", default="12 Harley Street, London W1G 9PF"),
    "PHONE": env("CLINIC_PHONE", default="020 7946 0000"),
    "EMAIL": env("CLINIC_EMAIL", default="hello@clinic.example"),
    "MIN_NOTICE_HOURS": env.int("CLINIC_MIN_NOTICE_HOURS", default=12),
    "HORIZON_DAYS": env.int("CLINIC_HORIZON_DAYS", default=90),
    "SLOT_STEP_MINUTES": env.int("CLINIC_SLOT_STEP_MINUTES", default=15),
    "CANCELLATION_WINDOW_HOURS": env.int("CLINIC_CANCELLATION_WINDOW_HOURS", default=24),
    "CLEARANCE_VALID_DAYS": env.int("CLINIC_CLEARANCE_VALID_DAYS", default=182),
    # Health records of adults: kept 8 years after the last treatment (NHS Records Management Code of
    # Practice 2023), the clinic's default; an erasure keeps the clinical record that long.
    "RECORD_RETENTION_YEARS": env.int("CLINIC_RECORD_RETENTION_YEARS", default=8),
    # Bank holidays of England and Wales close the clinic (clinic/closures.py); 0 for a clinic open on them.
    "CLOSED_ON_BANK_HOLIDAYS": env.bool("CLINIC_CLOSED_ON_BANK_HOLIDAYS", default=True),
    # A practitioner working at two sites on one day: the time kept free between anything at one site and
    # anything at another (docs/sites.md). One figure for every pair of sites.
    "TRAVEL_MINUTES": env.int("CLINIC_TRAVEL_MINUTES", default=60),
}

# --- Celery ---------------------------------------------------------------------------------------
# With REDIS_URL: Redis is broker and result store. Without: kombu's filesystem transport under var/,
# which needs no server, so `make run` sends reminders on a bare machine.
# Availability answers are cached per process, filed under a counter the database bumps on every write
# that matters (bookings/availability.py, "cached reads"). AVAILABILITY_CACHE=0 turns it off: every answer
# computed (the set-up still from the catalogue kept under the "clinic" scope).
AVAILABILITY_CACHE = env.bool("AVAILABILITY_CACHE", default=True)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "availability": {  # answers kept as they are served, in a dict of the process (bookings/answer_cache.py)
        "BACKEND": "bookings.answer_cache.AnswerCache",
        "LOCATION": "availability",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

REDIS_URL = env("REDIS_URL", default="")
# REDIS_KEY_PREFIX: several apps (or parallel test workers, tests/conftest.py) on one Redis database, each with
# queues (and sessions) of its own.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
    # Sessions are read from Redis and kept in the database (clinic/sessions.py): a signed-in request reads no
    # session row, and a Redis restart signs nobody out.
    CACHES["sessions"] = {
        "BACKEND": "clinic.sessions.KeptClientRedisCache",  # Django's, its client kept (clinic/sessions.py)
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}sessions",
    }
    SESSION_ENGINE = "clinic.sessions"
    SESSION_CACHE_ALIAS = "sessions"
    # The API's availability answers, pooled between the processes: one computes an answer a write made
    # stale, the others take it from here (bookings/answer_cache.py).
    CACHES["answers"] = {
        "BACKEND": "clinic.sessions.KeptClientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{REDIS_KEY_PREFIX}answers",
        # Never wait long on it: without it an answer is computed (a blackholed Redis must not hang the API).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
else:
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host named: kombu warns on every connection without one
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery-results'}"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection around every task unless told to reuse it: a new
# PostgreSQL connection per short task (a reminder send) cost more than the task. Reused for up to this
# many tasks, then reopened.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=50)
CELERY_TIMEZONE = "UTC"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # The reminder outbox's dispatcher (bookings/tasks.py): claims due reminders, queues one send each.
    "dispatch-due-reminders": {
        "task": "bookings.tasks.dispatch_due_reminders",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The waitlist (bookings/waitlist.py): offers nobody answered in time go to the next waiters; freed times
    # whose offer task was lost with the broker are offered.
    # The notices' outbox (clinic/notices.py): notices whose first send failed are tried again.
    "send-due-notices": {
        "task": "clinic.tasks.send_due_notices",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "sweep-waitlist-offers": {
        "task": "bookings.tasks.sweep_waitlist_offers",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Payments (payments/tasks.py): online bookings whose deposit was not paid in time are released, and
    # refunds the provider has not yet accepted (it was down) are sent again, and receipt and invoice emails
    # that failed are tried again (the notices' backoff).
    "release-lapsed-deposit-holds": {
        "task": "payments.tasks.release_lapsed_holds",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "send-pending-refunds": {
        "task": "payments.tasks.send_pending_refunds",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    "send-due-document-emails": {
        "task": "payments.tasks.send_due_document_emails",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

# --- Payments (payments/, docs/payments.md) --------------------------------------------------------
# Card payments online go through Stripe's hosted Checkout when BOTH keys are set; without them only the
# desk takes money and online bookings need no deposit, so `make run` works offline.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Only for a stand-in of Stripe's API (the tests start one); empty: Stripe's own.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
PAYMENTS = {
    "CURRENCY": env("PAYMENTS_CURRENCY", default="GBP"),
    # How long an online booking waits for its deposit before its time is freed.
    "DEPOSIT_HOLD_MINUTES": env.int("PAYMENTS_DEPOSIT_HOLD_MINUTES", default=15),
    # VAT is shown on receipts and invoices only when the clinic is registered (a VAT number is set).
    "VAT_NUMBER": env("CLINIC_VAT_NUMBER", default=""),
    "VAT_RATE_PERCENT": Decimal(env("CLINIC_VAT_RATE_PERCENT", default="20")),
}

# --- Reminders (bookings/reminders/) ---------------------------------------------------------------
# Text messages: Twilio when its keys are in the environment, else files under var/sms/ (make run, offline).
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env("TWILIO_API_BASE_URL", default="")  # tests only: a local stand-in
SMS_BACKEND = env(
    "SMS_BACKEND",
    default="clinic.sms.TwilioSmsBackend" if TWILIO_ACCOUNT_SID else "clinic.sms.FileSmsBackend",
)
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms")
# A claimed reminder not sent within the lease (task lost with the broker, worker killed) is claimed again.
REMINDER_LEASE_SECONDS = env.int("REMINDER_LEASE_SECONDS", default=300)
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_RETRY_BASE_SECONDS = env.int("REMINDER_RETRY_BASE_SECONDS", default=60)
REMINDER_DISPATCH_BATCH = env.int("REMINDER_DISPATCH_BATCH", default=500)

# --- Row locks (clinic/locks.py): how long a booking transaction waits for a row someone else holds.
BOOKING_LOCK_TIMEOUT_MS = env.int("BOOKING_LOCK_TIMEOUT_MS", default=3000)

# --- Waitlist (bookings/waitlist.py) --------------------------------------------------------------------
WAITLIST_OFFERS_PER_SLOT = env.int("WAITLIST_OFFERS_PER_SLOT", default=3)
WAITLIST_OFFER_MINUTES = env.int("WAITLIST_OFFER_MINUTES", default=120)

# --- Phone numbers (clinic/phones.py): numbers written without a country code are read in this region.
PHONE_REGION = env("PHONE_REGION", default="GB")

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # JSON in and out: the browsable API's HTML needs inline script, which the content security policy refuses.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],  # DRF's, and a body nested too deep is a 400
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Forms ----------------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The container's health check asks gunicorn over plain HTTP from inside (clinic/health.py).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
# Staff see health data: their sessions end after this much idle time (clinic.middleware).
STAFF_IDLE_TIMEOUT_SECONDS = env.int("STAFF_IDLE_TIMEOUT_SECONDS", default=30 * 60)

# Content security policy, in development too so an inline script fails early: every script and style
# comes from the app's own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# No report-only policy (django-csp reads it too; clinic/csp.py builds both headers once per process).
CONTENT_SECURITY_POLICY_REPORT_ONLY = None

# Logs go to stderr. In production (DEBUG off) or with LOG_FORMAT=json, one JSON object per line (time in UTC,
# level, logger, message, and any `extra=` fields), which a log shipper reads without parsing text;
# LOG_FORMAT=text keeps plain lines. Celery's worker then leaves the root logger to this configuration.
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The reloader says "Watching for file changes" on its own already.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "django.utils.autoreload": {"level": "WARNING"}},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
