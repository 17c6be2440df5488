# The Clinic image: gunicorn serves the app; the same image runs the Celery worker, beat and migrations
# (docker-compose.yml). docs/operations.md explains building, running and upgrading.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv in /venv with the locked dependencies, then the app as a regular package ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
# The lock file alone first: this layer is reused until requirements-prod.lock changes, whatever the code.
COPY requirements-prod.lock /tmp/requirements-prod.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements-prod.lock
# The code: built into a wheel and installed into /venv (not editable: the image holds no source tree).
COPY . /src
RUN pip install --no-deps /src

# --- runtime: the virtualenv, the templates and static files, a user without privileges --------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH \
    CLINIC_APP_DIR=/app DEBUG=0 WEB_CONCURRENCY=2
RUN groupadd --system --gid 10001 clinic \
    && useradd --system --uid 10001 --gid clinic --home-dir /app --no-create-home clinic
COPY --from=build /venv /venv
WORKDIR /app
COPY manage.py ./
COPY templates ./templates
COPY static ./static
COPY deploy/healthcheck.py ./deploy/healthcheck.py
# Static files collected once, at build (compressed, names hashed; DEBUG is off so the manifest is written).
# var/media (uploads) and var/private (clinical photos) belong to the app user: the named volumes mounted
# there start as copies of these empty folders, ownership included.
RUN SECRET_KEY=collectstatic-only SITE_URL=https://build.invalid python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var/media var/private \
    && chown -R clinic:clinic var
USER clinic
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
# WEB_CONCURRENCY sets gunicorn's worker count.
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--timeout", "30", "--graceful-timeout", "20"]
