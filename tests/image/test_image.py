"""What is in the image, and what is not: checked on the built image without serving."""

import json
import re

import pytest

from harness.podman import RESTRICTED, podman
from tests.image.conftest import report

pytestmark = [pytest.mark.image, pytest.mark.slow]

MB = 1_000_000
# Django 32 MB, Pillow and its libraries 21 MB (image uploads), psycopg's libpq 9 MB, Pygments
# 8 MB (code highlighting), boto3 and botocore's S3 models 8 MB, and the rest: about 120 MB
# measured (docs/image.md); a regression past this fails.
SIZE_BUDGET_OVER_BASE = 140 * MB


@pytest.fixture(scope="module")
def config(image) -> dict:
    return json.loads(podman("image", "inspect", image.name, "--format", "{{json .Config}}").stdout)


def test_runs_as_a_numeric_non_root_user(config):
    # Kubernetes' runAsNonRoot can only verify a number; a user name makes the pod fail.
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", config["User"]), config["User"]
    assert config["User"] == "10001:10001"


def test_starts_gunicorn_in_exec_form_from_the_app_directory(config):
    assert config["Cmd"] == ["gunicorn", "-c", "config/gunicorn.conf.py"]
    assert not config.get("Entrypoint")  # so `IMAGE python manage.py ...` runs as written
    assert config["WorkingDir"] == "/app"
    assert "8000/tcp" in config["ExposedPorts"]


def test_metadata(image, config):
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["APP_VERSION"] == image.version
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["PORT"] == "8000"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == image.version
    assert re.fullmatch(
        r"[0-9a-f]{40}(-dirty)?|unknown", labels["org.opencontainers.image.revision"]
    )
    for key in ("title", "source", "created", "base.name"):
        assert f"org.opencontainers.image.{key}" in labels
    # podman keeps HEALTHCHECK beside the config (docker image format only).
    health = json.loads(
        podman("image", "inspect", image.name, "--format", "{{json .HealthCheck}}").stdout
    )
    assert health["Test"][:2] == ["CMD", "python"]
    assert "/healthz" in health["Test"][-1]


def test_nothing_but_the_app_in_the_final_stage(image):
    # Looked at as root, so nothing is hidden by permissions.
    script = r"""
        for tool in gcc cc c++ make pip pip3; do
            command -v "$tool" >/dev/null && echo "found tool: $(command -v "$tool")"
        done
        ls /opt/venv/bin/pip* 2>/dev/null | sed 's/^/found: /'
        find / -xdev \( -path /proc -o -path /sys \) -prune -o \
             \( -type d -path '*/.cache/pip' \) -print | sed 's/^/found pip cache: /'
        find /app /opt/venv -name .git -print | sed 's/^/found: /'
        find /app \( -name tests -o -name 'test_*.py' -o -name conftest.py -o -name '.env*' \
             -o -name '*.sqlite3' -o -name requirements.lock -o -name Dockerfile \) -print \
             | sed 's/^/found: /'
        test -f /app/staticfiles/staticfiles.json || echo "missing: staticfiles.json"
        test -f /app/config/__pycache__/gunicorn.conf.cpython-*.pyc 2>/dev/null \
            || ls /app/ops/__pycache__/*.pyc >/dev/null 2>&1 || echo "missing: compiled bytecode"
        true
    """
    result = podman(
        "run", "--rm", "--user", "0", "--network", "none", image.name, "sh", "-c", script
    )
    assert result.stdout.strip() == "", result.stdout


def test_size_over_the_base(image):
    size = int(podman("image", "inspect", image.name, "--format", "{{.Size}}").stdout)
    base = int(podman("image", "inspect", image.base, "--format", "{{.Size}}").stdout)
    du = podman(
        "run", "--rm", "--network", "none", image.name, "sh", "-c",
        "du -sk --apparent-size /opt/venv /app/staticfiles /app; "
        "du -sk --apparent-size /opt/venv/lib/python3*/site-packages/* | sort -rn | head -6",
    ).stdout  # fmt: skip
    parts = [
        (int(kb), path.rsplit("/", 1)[-1]) for kb, path in (ln.split() for ln in du.splitlines())
    ]
    venv, static, code = (kb for kb, _ in parts[:3])  # du counts /app/staticfiles once
    top = ", ".join(f"{name} {kb / 1000:.1f}" for kb, name in parts[3:])
    report(
        f"image size: {size / MB:.0f} MB = base {image.base} {base / MB:.0f} MB"
        f" + {(size - base) / MB:.1f} MB"
    )
    report(
        f"  added: /opt/venv {venv / 1000:.1f} MB (largest: {top}), static files"
        f" {static / 1000:.1f} MB, code {code / 1000:.1f} MB"
    )
    assert size - base <= SIZE_BUDGET_OVER_BASE


def test_the_object_store_clients_the_app_needs_are_in_the_image(image):
    """The image keeps botocore's S3, STS and SSO models only (Dockerfile): each client the
    app and its credential chain may make is there; any other service's model is gone."""
    check = (
        "import boto3; "
        "[boto3.client(s, region_name='us-east-1') for s in ('s3', 'sts', 'sso', 'sso-oidc')]; "
        "from botocore.exceptions import UnknownServiceError\n"
        "try:\n boto3.client('ec2', region_name='us-east-1')\n"
        "except UnknownServiceError:\n print('ec2 model absent')"
    )
    result = podman("run", "--rm", "--network", "none", image.name, "python", "-c", check)
    assert result.stdout.strip() == "ec2 model absent"


def test_a_missing_setting_stops_start_up_with_one_line_naming_it(image):
    result = podman("run", "--rm", "--read-only", *RESTRICTED, image.name, check=False)
    assert result.returncode == 2, result.stdout[-1000:] + result.stderr[-1000:]
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_app_version_is_baked_in_and_overridable(image):
    show = "from django.conf import settings; print(settings.APP_VERSION)"
    result = podman(
        "run", "--rm", "--network", "none", "-e", "DJANGO_SETTINGS_MODULE=config.settings.base",
        "-e", "APP_VERSION=9.9.9-override", image.name, "python", "-c", show,
    )  # fmt: skip
    assert result.stdout.strip() == "9.9.9-override"
