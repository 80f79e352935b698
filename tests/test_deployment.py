"""The deployment files stay true to the portal (issue 19, docs/deployment.md): .env.example names
every setting the portal reads and loads as production settings, compose.yaml is a valid Compose
file with exactly one beat and health checks, the image installs the runtime lock by hash as a
non-root user, and the locks match their inputs."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import ROOT, manage, production_env

APP_PACKAGES = ("clinic", "patients", "medications", "appointments", "notifications", "records", "demo")
# Read from the environment but not settings a clinic sets: fault injection for the crash tests
# and the chaos harness (notifications/outbox.py).
NOT_SETTINGS = {"TITRATE_CRASH_AT"}
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
COMPOSE = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def settings_read_from_environment() -> set[str]:
    names = set()
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name.startswith("settings_test"):
                continue
            text = path.read_text()
            names |= set(re.findall(r"\benv\.\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", text))
            names |= set(re.findall(r"environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
    return names - NOT_SETTINGS - {"DJANGO_SETTINGS_MODULE"}


def env_example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value.strip('"')
    return values


def test_env_example_names_every_setting_the_portal_reads():
    read = settings_read_from_environment()
    assert len(read) >= 40, read  # the scan found the settings (44 when this test was written)
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.MULTILINE))
    assert sorted(read - listed) == []


def test_env_example_filled_in_passes_the_deploy_checks(tmp_path):
    values = env_example_values()
    assert values["DJANGO_DEBUG"] == "false" and values["DJANGO_SECRET_KEY"] == ""
    values.update(DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    del values["REDIS_URL"]  # nothing listens there in this test; the settings without it are the same
    env = production_env(**values)

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr[-2000:]


def check_compose_file(folder: Path) -> subprocess.CompletedProcess:
    # check-jsonschema (pinned in requirements-dev.in) vendors the Compose specification's schema;
    # `make check-deploy` runs the same command.
    validator = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [validator, "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_file_matches_the_compose_specification():
    result = check_compose_file(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("broken", ["services: {web: {image: 3, ports: 8000}}", "services: {web: {helthcheck: {}}}"])
def test_the_compose_check_catches_a_broken_file(tmp_path, broken):
    (tmp_path / "compose.yaml").write_text(broken)
    assert check_compose_file(tmp_path).returncode == 1


def command(service: dict) -> str:
    value = service.get("command", "")
    return " ".join(value) if isinstance(value, list) else value


def test_compose_runs_exactly_one_beat_beside_web_worker_postgres_and_redis():
    services = COMPOSE["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "beat"}
    beats = [name for name, s in services.items() if re.search(r"\bcelery\b.*\bbeat\b", command(s))]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    assert command(services["web"]).startswith("gunicorn clinic.wsgi")
    assert " worker " in command(services["worker"])
    assert services["db"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")


def test_compose_checks_health_and_keeps_data_in_volumes():
    services = COMPOSE["services"]
    assert {name for name, s in services.items() if "healthcheck" in s} == {"db", "redis", "web", "worker"}
    assert "deploy/healthcheck.py" in " ".join(services["web"]["healthcheck"]["test"])
    assert (ROOT / "deploy" / "healthcheck.py").exists()
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, f"{name} depends on {target}"
    used = {mount.split(":")[0] for s in services.values() for mount in s.get("volumes", [])}
    assert used == set(COMPOSE["volumes"]) == {"pgdata", "redisdata"}
    # Every app service takes its settings from .env, the database and broker from compose.
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["env_file"] == ".env"
        assert set(services[name]["environment"]) == {"DATABASE_URL", "REDIS_URL"}


def test_the_image_is_pinned_non_root_and_installs_the_runtime_lock_by_hash():
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+$", DOCKERFILE, flags=re.MULTILINE)
    assert re.findall(r"^USER (\S+)", DOCKERFILE, flags=re.MULTILINE) == ["titrate:titrate"]
    assert "pip install --require-hashes --no-deps -r requirements.txt" in DOCKERFILE
    assert "collectstatic --noinput" in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert {"requirements-dev.txt", ".env", "tests", ".git"} <= set(ignored)


# -- The locks (make lock) ------------------------------------------------------------------------

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", flags=re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {package.lower().replace("_", "-").replace(".", "-"): version for package, version in PIN.findall(text)}


def locked_entries(name: str) -> list[str]:
    # One entry per package: its pin line and the --hash lines continuing it.
    return re.split(r"\n(?=[A-Za-z0-9])", (ROOT / name).read_text().split("\n", 2)[2])


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_has_a_hash(lock):
    entries = [entry for entry in locked_entries(lock) if PIN.match(entry)]
    assert len(entries) >= 40
    assert [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry] == []


@pytest.mark.parametrize(
    ("source", "lock"), [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
)
def test_each_lock_pins_what_its_input_asks_for(source, lock):
    wanted, locked = pins(source), pins(lock)
    assert len(wanted) >= 10
    assert {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version} == {}


def test_development_tools_stay_out_of_the_runtime_lock():
    runtime, development = pins("requirements.txt"), pins("requirements-dev.txt")
    assert {name: version for name, version in runtime.items() if development.get(name) != version} == {}
    assert {"honcho", "pytest", "ruff", "uv", "playwright", "check-jsonschema"} & set(runtime) == set()
