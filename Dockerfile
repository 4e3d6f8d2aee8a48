# kubeblog: the one production image (Kubernetes, compose and the local drill all run it).
#
#   docker build -t kubeblog:dev .                 # official Python slim base, from a registry
#   scripts/build-image.sh VERSION                 # what `make image` runs (podman or docker)
#
# BASE_IMAGE must provide python3 with the venv module. Everything the app needs lives in the
# virtualenv /opt/venv, never in /usr/local, so a Debian python3 stand-in base works as well
# as the official image (see docs/image.md).
ARG BASE_IMAGE=python:3.12-slim

# --- builder: the locked dependencies, installed into a virtualenv ---------------------------
FROM ${BASE_IMAGE} AS builder

# A TLS-inspecting proxy's CA, mounted for this build only (podman build -v ...:ro) and never
# copied into a layer. Empty on an ordinary machine: pip then uses its own CA bundle.
ARG PIP_CERT=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

COPY requirements.lock /tmp/requirements.lock
# The lock is the complete set, every wheel pinned by hash: pip installs exactly that and
# resolves nothing more (--no-deps), then `pip check` fails the build if the lock misses a
# dependency for this Python. Wheels only, so no compiler is needed. pip and setuptools
# leave afterwards: nothing installs at run time, and the image is smaller. botocore carries
# the API models of some 400 AWS services (28 MB); the app calls S3 only, and STS and SSO are
# what its credential chain may need (IRSA, SSO profiles): the other models go.
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps --only-binary=:all: \
        -r /tmp/requirements.lock \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && find /opt/venv -depth -name '*.po' -path '*/locale/*' -delete \
 && find /opt/venv/lib/python3*/site-packages/botocore/data -mindepth 1 -maxdepth 1 -type d \
        ! -name s3 ! -name sts ! -name sso ! -name sso-oidc -exec rm -rf {} +

# --- final: the virtualenv, the code and the collected static files, nothing else ------------
FROM ${BASE_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000 \
    METRICS_PORT=9000

# A numeric UID/GID (Kubernetes runAsNonRoot can only verify a number); -l: no lastlog entry.
RUN groupadd --gid 10001 kubeblog \
 && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin kubeblog

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The code belongs to root and is read-only for the app user; tests are left out by
# .dockerignore.
COPY manage.py ./
COPY config/ config/
COPY ops/ ops/
COPY blog/ blog/
COPY templates/ templates/
COPY static/ static/

# Static files are collected (hashed names + gzip/brotli copies) at build time with
# throwaway settings values: no database is touched. Bytecode is compiled now, because the
# root filesystem is read-only at run time.
RUN DJANGO_SECRET_KEY=build-only ALLOWED_HOSTS=localhost \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 EMAIL_HOST=console \
    S3_BUCKET=build-only MEDIA_URL=/media/ \
    python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q /app \
 && rm -rf /tmp/*

USER 10001:10001
EXPOSE 8000 9000

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]

# Build metadata last: a new version or commit only rebuilds these cheap layers.
ARG APP_VERSION=dev
ARG VCS_REF=unknown
ARG CREATED=""
ARG SOURCE=""
ARG BASE_IMAGE
ENV APP_VERSION=${APP_VERSION}
LABEL org.opencontainers.image.title="kubeblog" \
      org.opencontainers.image.description="A Django blog built to run as many stateless replicas on Kubernetes" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Exec form, no shell in between: SIGTERM reaches the gunicorn master, which stops gracefully.
# A command replaces it: `docker run IMAGE python manage.py migrate_locked`.
CMD ["gunicorn", "-c", "config/gunicorn.conf.py"]
