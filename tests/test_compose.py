"""docker-compose.yml, checked without a Docker engine: against the Compose specification's
JSON schema, and for the properties the delivery guarantee depends on."""

from __future__ import annotations

import copy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = {"migrate", "web", "worker", "scheduler"}
SHARED_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "SENDGRID_API_KEY",
    "SENDGRID_API_HOST",
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "METRICS_TOKEN",
    "LOG_FORMAT",
    "PROMETHEUS_MULTIPROC_DIR",
)


def validator() -> str:
    beside_python = Path(sys.executable).with_name("check-jsonschema")
    found = str(beside_python) if beside_python.exists() else shutil.which("check-jsonschema")
    if not found:
        pytest.fail("check-jsonschema is missing: install the dev extras (pip install -e '.[dev]')")
    return found


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [validator(), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return env


def command(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def test_compose_file_matches_the_compose_spec():
    result = validate(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def _bad_condition(doc):
    doc["services"]["web"]["depends_on"]["migrate"]["condition"] = "finished"


def _misspelt_key(doc):
    doc["services"]["worker"]["stop_grace_periodd"] = doc["services"]["worker"].pop(
        "stop_grace_period"
    )


def _wrong_type(doc):
    doc["services"]["scheduler"]["deploy"]["replicas"] = [1]


@pytest.mark.parametrize("breakage", [_bad_condition, _misspelt_key, _wrong_type])
def test_a_broken_copy_fails_validation(compose, tmp_path, breakage):
    # The untouched copy passes, so it is the breakage alone that the validator rejects.
    intact = tmp_path / "intact.yml"
    intact.write_text(yaml.safe_dump(compose))
    assert validate(intact).returncode == 0

    broken_doc = copy.deepcopy(compose)
    breakage(broken_doc)
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump(broken_doc))
    result = validate(broken)
    assert result.returncode != 0, result.stdout
    assert "validation errors" in result.stdout


def test_redis_keeps_its_queues_and_never_evicts(compose):
    redis = compose["services"]["redis"]
    cmd = command(redis)
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "noeviction"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in compose["volumes"]


def test_postgres_is_persistent_and_health_checked(compose):
    postgres = compose["services"]["postgres"]
    volume, _, target = postgres["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data" and volume in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_workers_can_be_scaled(compose):
    worker = compose["services"]["worker"]
    # Either would make `docker compose up --scale worker=5` fail on a name or port clash.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert command(worker) == ["python", "-m", "workers", "worker"]
    assert worker["deploy"]["replicas"] == 3


def test_metrics_are_served_and_scraped(compose):
    services = compose["services"]
    # The web serves /metrics on its port; each worker its own counters, unpublished.
    assert environment(services["web"])["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
    worker = services["worker"]
    assert environment(worker)["METRICS_PORT"] == "9100" and worker["expose"] == ["9100"]
    # Multiprocess mode wants a directory per container, empty at start: a tmpfs.
    directory = environment(services["web"])["PROMETHEUS_MULTIPROC_DIR"]
    for name in APP_SERVICES:
        assert directory in services[name]["tmpfs"], name
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    scraped = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job["dns_sd_configs"][0]["names"], job["dns_sd_configs"][0]["port"])
        for job in scraped["scrape_configs"]
    }
    assert targets == {"closeloop-web": (["web"], 8000), "closeloop-worker": (["worker"], 9100)}


def test_exactly_one_scheduler(compose):
    scheduler = compose["services"]["scheduler"]
    assert scheduler["deploy"]["replicas"] == 1
    assert scheduler.get("scale", 1) == 1
    assert command(scheduler) == ["python", "-m", "workers", "scheduler"]


def test_every_app_process_reads_the_same_settings(compose):
    services = compose["services"]
    app_services = {name for name, svc in services.items() if svc.get("build")}
    assert app_services == APP_SERVICES
    first = environment(services["web"])
    for name in APP_SERVICES:
        env = environment(services[name])
        for key in SHARED_SETTINGS:
            assert env.get(key) == first[key], f"{name} disagrees on {key}"
    assert first["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in first["DATABASE_URL"]
    assert first["REDIS_URL"].startswith("redis://redis:6379")
    assert first["SECRET_KEY"].startswith("${SECRET_KEY:?")  # required, no default
    assert first["DEV_MAILBOX_ENABLED"] == "false"
    # TLS is terminated by one proxy in front of web: its forwarded headers are trusted.
    assert first["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"


def test_web_serves_with_gunicorn_after_migrations(compose):
    services = compose["services"]
    web = services["web"]
    cmd = command(web)
    assert cmd[0] == "gunicorn" and cmd[-1] == "app:create_app()"
    assert "--bind=0.0.0.0:8000" in cmd
    assert web["ports"] == ["8000:8000"]
    assert command(services["migrate"]) == ["flask", "--app", "app", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "scheduler"):
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["migrate"]["condition"] == "service_completed_successfully", name


def test_image_runs_as_an_unprivileged_user():
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [words for words in lines if words and not words[0].startswith("#")]
    assert instructions[0] == ["FROM", "python:3.11-slim"]
    # The production lock, hash-checked; never the dev one, never a resolution.
    assert ["RUN", "pip", "install", "--require-hashes", "-r", "requirements.txt"] in instructions
    assert not any(w[0] == "RUN" and "pip" in w and "-r" not in w for w in instructions)
    users = [words[1] for words in instructions if words[0] == "USER"]
    assert users and users[-1] not in ("root", "0")
