FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e . \
    && SECRET_KEY=build-only SITE_URL=http://build.invalid python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
