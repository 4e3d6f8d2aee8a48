"""compose.yaml is valid for Docker Compose and runs the app as Kubernetes does; the HAProxy
configuration it mounts is valid. (No registry here: the stack itself is not started.)"""

import shutil
import subprocess

import pytest
import yaml

from harness.paths import ROOT

pytestmark = pytest.mark.image

# What .env must set: compose refuses to start without each.
SECRETS = (
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "DJANGO_SECRET_KEY",
    "DJANGO_SUPERUSER_PASSWORD",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
)


def compose_config(directory) -> subprocess.CompletedProcess:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is missing (scripts/system-deps.sh test installs it)")
    return subprocess.run(
        [compose, "--file", "compose.yaml", "config"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


def env_example() -> dict[str, str]:
    """The settings .env.example gives, by name."""
    return dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )


@pytest.fixture
def project(tmp_path):
    """compose.yaml beside an .env made from .env.example, as a newcomer would set it up."""
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return tmp_path


def test_compose_file_is_valid(project):
    result = compose_config(project)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"db", "redis", "s3", "migrate", "web", "worker", "lb"}
    assert {"pgdata", "s3data"} <= set(config["volumes"])

    for name in ("migrate", "web", "worker"):
        app = services[name]
        assert app["image"] == "kubeblog:dev"
        assert app["user"] == "10001:10001"
        assert app["read_only"] is True
        assert app["tmpfs"] == ["/tmp"]
        assert app["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in app["security_opt"]
        assert app["environment"]["DATABASE_URL"].startswith("postgres://kubeblog:")

    web = services["web"]
    assert "ports" not in web, "a published port would stop `--scale web=3`"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "DJANGO_SUPERUSER_PASSWORD" not in web["environment"]
    assert "DJANGO_SUPERUSER_PASSWORD" in services["migrate"]["environment"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    worker = services["worker"]
    assert worker["command"] == ["python", "manage.py", "worker"]
    assert "ports" not in worker and "expose" not in worker, "nothing connects to a worker"
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "9000" in " ".join(worker["healthcheck"]["test"]), "its health is on METRICS_PORT"
    assert worker["environment"] == web["environment"], "the same settings as web"
    assert worker["environment"]["EMAIL_HOST"] == "console", "mail goes to the log by default"
    assert worker["stop_grace_period"] == "30s"
    # Only the load balancer is reachable, and only from this machine.
    assert all(port.startswith("127.0.0.1:") for port in services["lb"]["ports"])


def test_redis_evicts_well_before_its_memory_limit(project):
    """A full cache must stay an eviction (maxmemory), never an OOM kill (mem_limit): a
    quarter of the limit is left for fragmentation, client buffers and the process."""
    redis = yaml.safe_load(compose_config(project).stdout)["services"]["redis"]
    command = redis["command"]
    maxmemory, limit = command[command.index("--maxmemory") + 1], redis["mem_limit"]
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"
    # Redis's "mb" and Docker's "m" are both MiB.
    assert maxmemory.endswith("mb") and limit.endswith("m"), (maxmemory, limit)
    assert int(maxmemory[:-2]) <= 0.75 * int(limit[:-1]), (maxmemory, limit)


def test_redis_requires_the_password_the_app_uses(project):
    """Redis runs with requirepass from .env, its health check authenticates and looks for
    PONG (redis-cli exits 0 on NOAUTH too), and the app's REDIS_URL carries the same one."""
    services = yaml.safe_load(compose_config(project).stdout)["services"]
    password = env_example()["REDIS_PASSWORD"]
    redis = services["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1] == password
    assert redis["environment"]["REDISCLI_AUTH"] == password
    assert redis["healthcheck"]["test"] == ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]
    for name in ("migrate", "web", "worker"):
        url = services[name]["environment"]["REDIS_URL"]
        assert url == f"redis://:{password}@redis:6379/0", name


def test_images_go_to_the_s3_service_and_the_browser_reads_them_from_this_machine(project):
    """The app stores uploads in the s3 service's bucket with the key pair from .env, which
    is the one pair SeaweedFS accepts; anonymous clients may only read objects; MEDIA_URL is
    the port published on 127.0.0.1, and the bucket is made on start (no one-shot)."""
    services = yaml.safe_load(compose_config(project).stdout)["services"]
    s3 = services["s3"]
    settings = env_example()
    (published,) = s3["ports"]
    assert published.startswith("127.0.0.1:") and published.endswith(":8333/tcp"), published
    host_port = published.split(":")[1]
    script = s3["command"][0]
    assert s3["environment"]["ACCESS_KEY_ID"] == settings["S3_ACCESS_KEY_ID"]
    assert s3["environment"]["SECRET_ACCESS_KEY"] == settings["S3_SECRET_ACCESS_KEY"]
    bucket = s3["environment"]["BUCKET"]
    assert '-bucket="$$BUCKET"' in script, "the bucket is made on start"
    assert '{"name": "anonymous", "actions": ["Read:$$BUCKET"]}' in script, "public read only"
    assert "s3data:/data:rw" in s3["volumes"] and s3["read_only"] is True
    for name in ("migrate", "web", "worker"):
        env = services[name]["environment"]
        assert env["S3_BUCKET"] == bucket, name
        assert env["S3_ENDPOINT_URL"] == "http://s3:8333", name
        assert env["S3_ADDRESSING_STYLE"] == "path", name
        assert env["S3_ACCESS_KEY_ID"] == settings["S3_ACCESS_KEY_ID"], name
        assert env["S3_SECRET_ACCESS_KEY"] == settings["S3_SECRET_ACCESS_KEY"], name
        assert env["MEDIA_URL"] == f"http://127.0.0.1:{host_port}/{bucket}/", name
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["s3"]["condition"] == "service_healthy", name


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_refuses_to_start_without_a_secret(secret, tmp_path):
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    env = "".join(f"{k}={v}\n" for k, v in env_example().items() if k != secret)
    (tmp_path / ".env").write_text(env)
    result = compose_config(tmp_path)
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def test_env_example_holds_no_real_secret():
    values = env_example()
    for key in SECRETS:
        assert values[key].startswith("CHANGE-ME"), key


def test_haproxy_config_is_valid():
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        pytest.fail("haproxy is missing (scripts/system-deps.sh test installs it)")
    result = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy/local/haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
