"""A throw-away PostgreSQL cluster for tests and benches: ``initdb`` + ``pg_ctl``, a unix socket
in a temporary directory, no TCP port, stopped and deleted at the end.

Owns: finding the server binaries (Debian keeps them in ``/usr/lib/postgresql/<major>/bin``, off
``PATH``), running them as an unprivileged user when this process is root (``initdb`` refuses to
run as root), fresh databases on demand, and the connection URL. Imported on its own, not from the
package's ``__init__``. Layer: testing (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

#: The user the cluster runs as when this process is root.
UNPRIVILEGED_USER = "nobody"
#: The superuser role the cluster is created with (trust authentication over its socket only).
SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed; the message says how to get them."""


def find_bin_dir() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest major version first).

    ``$PG_BIN_DIR`` wins when set. Raises :class:`PostgresUnavailable` when none is found.
    """
    candidates: list[str] = []
    if os.environ.get("PG_BIN_DIR"):
        candidates.append(os.environ["PG_BIN_DIR"])
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        versioned, key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0, reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found in $PG_BIN_DIR, /usr/lib/postgresql/*/bin "
        "or on PATH; install them with `apt-get install postgresql` (scripts/dev.sh test does this as root)"
    )


class TempCluster:
    """``with TempCluster() as cluster: cluster.url`` — a running cluster until the block ends."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="agent-app-server-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self._run_as: list[str] = []
        self._started = False
        self._databases = 0

    @property
    def url(self) -> str:
        """The URL of the default database (``postgres``)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@/{name}?host={self.socket_dir}"

    def start(self) -> None:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            # initdb and postgres refuse root; the files must belong to the user that runs them.
            user = pwd.getpwnam(UNPRIVILEGED_USER)
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._run_as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        # No TCP listener; fsync off: a throw-away cluster trades durability for speed.
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.socket_dir} -c fsync=off -c max_connections=200"
        )
        log_file = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-o", options, "-w", "-t", "60", "start")
        self._started = True

    def create_database(self, prefix: str = "test", *, template: str | None = None) -> str:
        """A new database (empty, or a copy of the database ``template`` names); its URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        copy = ["-T", template] if template else []
        self._run("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, *copy, name)
        return self.database_url(name)

    @staticmethod
    def database_name(url: str) -> str:
        return url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]

    def stop(self) -> None:
        try:
            if self._started:
                self._started = False
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._run_as, str(self.bin_dir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed (exit {result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
