"""Real processes for the harness: its own PostgreSQL cluster and Redis server (so it may kill
them without disturbing anyone else's), gunicorn, Celery workers and beats, the fake SMS gateway.

Every process starts in its own session, so a SIGKILL of its group takes its children too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_PORT = int(os.environ.get("CHAOS_PG_PORT", "5440"))
REDIS_PORT = int(os.environ.get("CHAOS_REDIS_PORT", "6390"))
SMS_PORT = int(os.environ.get("CHAOS_SMS_PORT", "6391"))
WEB_PORT = int(os.environ.get("CHAOS_WEB_PORT", "8790"))
BASE_URL = f"http://127.0.0.1:{WEB_PORT}"
SMS_URL = f"http://127.0.0.1:{SMS_PORT}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Stack:
    def __init__(self, workdir: Path):
        self.dir = workdir
        # The cluster lives under /tmp, not in the checkout: the postgres user may not be able to
        # reach a clone under /root (CI clones wherever it likes).
        self.pgroot = Path(tempfile.gettempdir()) / f"titrate-chaos-pg{PG_PORT}"
        self.pgdata = self.pgroot / "data"
        self.mail_dir = workdir / "mail"
        self.logs = workdir / "logs"
        self.procs: dict[str, subprocess.Popen] = {}
        self.counter = 0
        self.web_port = WEB_PORT  # the load test's subclass serves on a port of its own
        self.base_url = BASE_URL

    # -- environment shared by every Django process ---------------------------------------------
    def env(self, **extra) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chaos.settings",
            "DJANGO_DEBUG": "false",
            "TITRATE_CLINIC_PHONE": "(617) 555-0100",
            "DJANGO_SECRET_KEY": "chaos-harness-only-not-a-real-secret-0123456789abcdef",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": BASE_URL,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/chaos",
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
            # django-environ drops the first slash of a filemail path: four slashes make it absolute.
            "EMAIL_URL": f"filemail:///{self.mail_dir}",
            "SMS_BACKEND": "http",
            "SMS_HTTP_URL": f"{SMS_URL}/messages",
            "SMS_HTTP_TIMEOUT_SECONDS": "2",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        }
        env.pop("TITRATE_CRASH_AT", None)
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env=None, as_postgres=False) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it open)
        if as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    # -- PostgreSQL (own cluster) ----------------------------------------------------------------
    def pg_init(self) -> None:
        for folder in (self.dir, self.pgroot):
            if folder.exists():
                shutil.rmtree(folder)
        self.dir.mkdir(parents=True)
        self.mail_dir.mkdir()
        self.pgroot.mkdir(mode=0o700)
        self.pgdata.mkdir(mode=0o700)
        for path in (self.pgroot, self.pgdata):
            shutil.chown(path, "postgres", "postgres")
        self._pg(["initdb", "-D", str(self.pgdata), "-A", "trust", "-U", "postgres", "--no-sync"], quiet=True)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write("\nfsync = off\nfull_page_writes = off\nmax_connections = 200\nshared_buffers = 128MB\n")
        self.pg_start()
        self._pg(["createdb", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres", "chaos"], quiet=True)

    def _pg(self, argv: list[str], quiet=False) -> None:
        cmd = ["runuser", "-u", "postgres", "--", str(PG_BIN / argv[0]) if (PG_BIN / argv[0]).exists() else argv[0]]
        subprocess.run(cmd + argv[1:], check=True, cwd=self.pgroot, capture_output=quiet)

    def pg_start(self) -> None:
        self._pg(
            [
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgroot / "postgres.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {PG_PORT} -k {self.pgroot} -c listen_addresses=127.0.0.1",
                "start",
            ],  # fmt: skip
            quiet=True,
        )

    def pg_stop(self, mode: str = "fast") -> None:
        self._pg(["pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop"], quiet=True)

    def pg_restart(self, down_seconds: float = 3.0) -> None:
        self.pg_stop("immediate")  # as a crash: no shutdown checkpoint
        time.sleep(down_seconds)
        self.pg_start()

    # -- Redis (own server, no persistence: a restart loses everything) ---------------------------
    def redis_start(self) -> None:
        self._spawn(
            "redis",
            [
                "redis-server",
                "--port",
                str(REDIS_PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--maxmemory-policy",
                "noeviction",
            ],  # fmt: skip
        )
        self._wait(lambda: self.redis_ping(), "redis")

    def redis_ping(self) -> bool:
        import redis

        try:
            return redis.Redis(port=REDIS_PORT, socket_timeout=1).ping()
        except Exception:
            return False

    def redis_kill(self) -> None:
        self.kill("redis")

    # -- fake SMS gateway ------------------------------------------------------------------------
    def sms_start(self) -> None:
        self._spawn("fakesms", [sys.executable, "-m", "chaos.fakesms", "--port", str(SMS_PORT)])
        self._wait(lambda: requests.get(f"{SMS_URL}/_stats", timeout=1).ok, "fake SMS gateway")

    def sms_control(self, **state) -> dict:
        return requests.post(f"{SMS_URL}/_control", json=state, timeout=5).json()

    def sms_stats(self) -> dict:
        return requests.get(f"{SMS_URL}/_stats", timeout=5).json()

    # -- Django processes ------------------------------------------------------------------------
    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), check=True, capture_output=True)

    def web_start(self, workers: int = 3, threads: int = 4, extra: tuple[str, ...] = ()) -> None:
        self._spawn(
            "web",
            [
                str(VENV_BIN / "gunicorn"),
                "clinic.wsgi",
                "-b",
                f"127.0.0.1:{self.web_port}",
                "-w",
                str(workers),
                "--threads",
                str(threads),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                *extra,
            ],  # fmt: skip
        )
        self._wait(lambda: requests.get(f"{self.base_url}/accounts/login/", timeout=5).ok, "gunicorn", 60)

    def worker_start(self, name: str = "worker", concurrency: int = 2, **env) -> subprocess.Popen:
        self.counter += 1
        return self._spawn(
            name,
            [
                str(VENV_BIN / "celery"),
                "-A",
                "clinic",
                "worker",
                "-c",
                str(concurrency),
                "--loglevel=WARNING",
                "-n",
                f"{name}{self.counter}@%h",
                "--without-mingle",
                "--without-gossip",
            ],  # fmt: skip
            env=self.env(**env),
        )

    def beat_start(self, name: str = "beat") -> subprocess.Popen:
        return self._spawn(
            name,
            [
                str(VENV_BIN / "celery"),
                "-A",
                "clinic",
                "beat",
                "--loglevel=WARNING",
                "--pidfile=",
                "-s",
                str(self.dir / f"{name}-schedule"),
            ],  # fmt: skip
        )

    # -- process control -------------------------------------------------------------------------
    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        self.kill(name, signal.SIGTERM)

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def shutdown(self) -> None:
        for name in [n for n in self.procs if n != "redis"]:
            self.stop(name)
        self.stop("redis")
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.pg_stop("fast")

    @staticmethod
    def _wait(check, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception:  # noqa: S110 (not up yet)
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")
