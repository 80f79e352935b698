# Titrate's one image: gunicorn by default; compose.yaml runs the Celery worker and beat from it too.
# The base is an exact Python patch release on Debian 12, the Python the tests run on. For
# byte-for-byte rebuilds pin its digest as well (docs/deployment.md, "Pinning the base image"):
#   docker build --build-arg PYTHON_IMAGE=python:3.11.7-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid, so files in mounted volumes have a predictable owner.
RUN groupadd --system --gid 10001 titrate \
    && useradd --system --uid 10001 --gid titrate --home-dir /app --no-create-home --shell /usr/sbin/nologin titrate

WORKDIR /app

# WeasyPrint (clinic/pdf.py: after-visit summaries, prescriptions) needs Pango and HarfBuzz's
# subsetter from Debian, and a font to draw with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The runtime lock only (no test tools, no honcho); every file is checked against its hash.
COPY requirements.txt ./
RUN pip install --require-hashes --no-deps -r requirements.txt

COPY . .

# Static files are collected at build time into var/staticfiles (WhiteNoise serves them, hashed
# names and compressed copies: CompressedManifestStaticFilesStorage). The settings refuse to load
# without production values, so this one step gets placeholders that never reach a container.
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    EMAIL_URL=consolemail:// \
    TITRATE_CLINIC_PHONE="(617) 555-0100" \
    python manage.py collectstatic --noinput \
    && chown -R titrate:titrate /app/var

USER titrate:titrate
EXPOSE 8000

# Health checks are per service in compose.yaml (web: deploy/healthcheck.py; worker: celery
# inspect ping): one HEALTHCHECK here would also judge the worker and beat containers by gunicorn.
# gunicorn reads gunicorn.conf.py from /app (the access log's masking of secrets in URLs).
# FORWARDED_ALLOW_IPS (gunicorn's own variable) names the TLS proxy in front; .env.example.
CMD ["gunicorn", "clinic.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
