"""Settings come from the environment and are parsed strictly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.envconf import DATABASE_SCHEMES, LOG_LEVELS, Env
from tests.helpers import ROOT, manage, production_env


class TestEnv:
    @pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "on"])
    def test_true_values(self, raw):
        assert Env({"X": raw}).bool("X", default=False) is True

    @pytest.mark.parametrize("raw", ["0", "false", "No", "off"])
    def test_false_values(self, raw):
        assert Env({"X": raw}).bool("X", default=True) is False

    @pytest.mark.parametrize("raw", ["yes-please", "2", "ture", "enabled"])
    def test_anything_else_is_an_error_naming_the_variable(self, raw):
        with pytest.raises(ImproperlyConfigured, match=f"DJANGO_DEBUG={raw!r} is not a boolean"):
            Env({"DJANGO_DEBUG": raw}).bool("DJANGO_DEBUG", default=False)

    def test_unset_or_blank_takes_the_default(self):
        assert Env({}).bool("X", default=True) is True
        assert Env({"X": "  "}).bool("X", default=False) is False

    def test_required_string(self):
        with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY must be set"):
            Env({}).str("DJANGO_SECRET_KEY", required=True)

    def test_int(self):
        assert Env({"N": "30"}).int("N", default=1) == 30
        with pytest.raises(ImproperlyConfigured, match="not a whole number"):
            Env({"N": "thirty"}).int("N", default=1)
        with pytest.raises(ImproperlyConfigured, match="at least 0"):
            Env({"N": "-5"}).int("N", default=1)

    def test_list(self):
        assert Env({"H": "a.example, b.example"}).list("H") == ["a.example", "b.example"]
        with pytest.raises(ImproperlyConfigured, match="empty item"):
            Env({"H": "a.example,,b.example"}).list("H")

    def test_url_scheme_is_checked_without_echoing_the_secret(self):
        env = Env({"DATABASE_URL": "mysql://root:hunter2@db/titrate"})
        with pytest.raises(ImproperlyConfigured) as excinfo:
            env.url("DATABASE_URL", DATABASE_SCHEMES)
        assert "'mysql'" in str(excinfo.value)
        assert "hunter2" not in str(excinfo.value)

    def test_choice(self):
        assert Env({"L": "DEBUG"}).choice("L", LOG_LEVELS, default="INFO") == "DEBUG"
        with pytest.raises(ImproperlyConfigured, match="not one of"):
            Env({"L": "verbose"}).choice("L", LOG_LEVELS, default="INFO")

    def test_time_zone(self):
        assert Env({"Z": "Europe/Paris"}).time_zone("Z", default="UTC") == "Europe/Paris"
        with pytest.raises(ImproperlyConfigured, match="IANA"):
            Env({"Z": "Mars/Olympus"}).time_zone("Z", default="UTC")


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_malformed_debug_value_stops_with_a_clear_message():
    result = manage("check", env=production_env(DJANGO_DEBUG="yes-please"))

    assert result.returncode == 2
    assert result.stderr.strip().startswith("Configuration error: DJANGO_DEBUG='yes-please' is not a boolean")
    assert "Traceback" not in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode == 2
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts_or_email():
    env = production_env()
    del env["DJANGO_ALLOWED_HOSTS"]
    assert "DJANGO_ALLOWED_HOSTS must be set" in manage("check", env=env).stderr

    env = production_env()
    del env["EMAIL_URL"]
    assert "EMAIL_URL must be set" in manage("check", env=env).stderr


def test_debug_mode_runs_with_no_configuration_at_all():
    env = production_env(DJANGO_DEBUG="true")
    for key in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "EMAIL_URL"):
        del env[key]

    result = manage("check", env=env)

    assert result.returncode == 0, result.stderr


def test_tls_to_postgresql_and_redis_is_configured_from_the_urls():
    # docs/security.md "Deploying with TLS": the URLs alone turn TLS on for the database, the
    # cache, the broker and the result backend; nothing connects here.
    script = (
        "from django.conf import settings; from django.core.cache import cache; from clinic.celery import app; "
        "import redis; "
        "print(settings.DATABASES['default']['OPTIONS']['sslmode']); "
        "print(app.backend.connparams['connection_class'].__name__); "
        "print(app.connection_for_write().ssl['ssl_cert_reqs'].name); "
        "print(redis.ConnectionPool.from_url(cache.primary._cache._servers[0]).connection_class.__name__)"
    )
    env = production_env(
        DATABASE_URL="postgres://titrate@db.internal:5432/titrate?sslmode=verify-full&sslrootcert=/etc/titrate/ca.pem",
        REDIS_URL="rediss://:secret@redis.internal:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/titrate/ca.pem",
    )
    result = manage("shell", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["verify-full", "SSLConnection", "CERT_REQUIRED", "SSLConnection"]


def test_postgresql_sessions_plan_for_short_queries_on_fast_storage():
    # docs/performance.md: JIT off and SSD page costs, or caseload queries hash whole tables.
    script = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS']['options'])"
    result = manage("shell", "-c", script, env=production_env(DATABASE_URL="postgres://titrate@db.internal/titrate"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "-c jit=off -c random_page_cost=1.1"


def test_the_wsgi_application_loads_every_view_and_freezes_start_up_memory():
    """What gunicorn imports: after it, the views are loaded and start-up objects sit outside the
    cyclic collector (clinic/wsgi.py), so full collections stay short."""
    probe = (
        "import gc, sys; import clinic.wsgi; "
        "print(gc.get_freeze_count(), 'patients.views' in sys.modules, callable(clinic.wsgi.application))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    frozen, views_loaded, app = result.stdout.split()
    assert int(frozen) > 50_000 and views_loaded == "True" and app == "True"
