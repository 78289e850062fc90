"""The cache's SQLite file: tables, schema version, opening, rebuilding; not what it keeps."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

FILE_NAME = "basepin-cache.sqlite3"
# Bump when the tables change, or what they hold; a file with another version is rebuilt.
# 5: Docker Hub dates are the image content's push date, sizes those of one platform.
SCHEMA_VERSION = 7
# How long a process waits for another one holding the write lock.
BUSY_TIMEOUT_SECONDS = 5.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tags (
        registry TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL,
        digest TEXT NOT NULL, media_type TEXT, pushed TEXT, size INTEGER,
        verified INTEGER NOT NULL DEFAULT 0, stored_at REAL NOT NULL,
        PRIMARY KEY (registry, repository, tag))""",
    """CREATE TABLE IF NOT EXISTS digests (
        registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
        media_type TEXT NOT NULL, is_index INTEGER NOT NULL, platforms TEXT NOT NULL,
        children TEXT NOT NULL DEFAULT '[]', created TEXT, size INTEGER,
        partial INTEGER NOT NULL DEFAULT 0, created_source TEXT,
        PRIMARY KEY (registry, repository, digest))""",
    """CREATE TABLE IF NOT EXISTS tag_lists (
        registry TEXT NOT NULL, repository TEXT NOT NULL,
        tags TEXT NOT NULL, stored_at REAL NOT NULL,
        PRIMARY KEY (registry, repository))""",
    # The packages an image's SBOM lists (as JSON), or why there is none to read.
    """CREATE TABLE IF NOT EXISTS sboms (
        registry TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
        platforms TEXT NOT NULL, packages TEXT NOT NULL,
        PRIMARY KEY (registry, repository, digest, platforms))""",
    """CREATE TABLE IF NOT EXISTS osv_queries (
        ecosystem TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
        hits TEXT NOT NULL, stored_at REAL NOT NULL,
        PRIMARY KEY (ecosystem, name, version))""",
    """CREATE TABLE IF NOT EXISTS osv_records (
        id TEXT NOT NULL, modified TEXT NOT NULL, advisory TEXT NOT NULL,
        PRIMARY KEY (id, modified))""",
)


class CacheFile:
    """A lazily opened connection to the cache file; disabled when there is no folder.

    Problems with the file land in `warnings` (for the caller to print) and switch the cache
    off for the rest of the process rather than fail.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.warnings: list[str] = []
        self._connection: sqlite3.Connection | None = None
        self._disabled = folder is None
        # One connection per process; the lock lets worker threads share it.
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / FILE_NAME

    @property
    def enabled(self) -> bool:
        return not self._disabled

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _fetch(self, sql: str, parameters: tuple[object, ...]) -> tuple[Any, ...] | None:
        with self._lock:
            connection = self._connect(create=False)
            if connection is None:
                return None
            import sqlite3  # loaded by _connect

            try:
                row: tuple[Any, ...] | None = connection.execute(sql, parameters).fetchone()
            except sqlite3.Error as error:
                self._give_up(f"cannot read the cache {self.path}: {error}")
                return None
            return row

    def _write(self, sql: str, parameters: tuple[object, ...]) -> None:
        with self._lock:
            connection = self._connect()
            if connection is None:
                return
            import sqlite3  # loaded by _connect

            try:
                # Autocommit: each upsert is its own short, atomic transaction.
                connection.execute(sql, parameters)
            except sqlite3.Error as error:
                self._give_up(f"cannot write the cache {self.path}: {error}")

    def _write_many(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            connection = self._connect()
            if connection is None or not rows:
                return
            import sqlite3  # loaded by _connect

            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(sql, rows)
                finally:
                    connection.execute("COMMIT")
            except sqlite3.Error as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                self._give_up(f"cannot write the cache {self.path}: {error}")

    def _connect(self, *, create: bool = True) -> sqlite3.Connection | None:
        """The connection, opened on first use; None when the cache is off, or when there is
        no file yet and `create` is false (a missing file answers nothing: a cold run need
        not load sqlite3 and set the file up before its first request)."""
        if self._disabled:
            return None
        if self._connection is not None:
            return self._connection
        assert self.folder is not None  # a cache without a folder starts disabled
        path = self.folder / FILE_NAME
        if not create and not path.exists():
            return None
        import sqlite3

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._connection, rebuilt_because = _open_database(path)
        except OSError as error:
            self._give_up(f"cache folder {self.folder} cannot be used ({error.strerror})")
            return None
        except sqlite3.OperationalError as error:
            # Cannot open or lock the file at all (permissions, busy for too long).
            self._give_up(f"cannot open the cache {path}: {error}")
            return None
        except sqlite3.DatabaseError as error:
            # Not a database, or a damaged one: replace the file.
            try:
                _remove_database(path)
                self._connection, _ = _open_database(path)
            except (OSError, sqlite3.Error) as again:
                self._give_up(f"cache {path} is damaged ({error}) and cannot be rebuilt ({again})")
                return None
            rebuilt_because = str(error)
        if rebuilt_because:
            self.warnings.append(f"cache {path} was rebuilt: {rebuilt_because}")
        return self._connection

    def _give_up(self, message: str) -> None:
        self.warnings.append(f"{message}; not using the cache for this run")
        self._disabled = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _open_database(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """Connect and make sure the tables are ours, creating them in a fresh file.

    A database with another schema version is emptied and set up again; the second value
    says why when that happened. A file that is not a database raises sqlite3.DatabaseError.
    """
    import sqlite3

    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        if _schema_version(connection) == SCHEMA_VERSION:
            return connection, None
        # IMMEDIATE takes the write lock, so concurrent first runs set up the tables once.
        connection.execute("BEGIN IMMEDIATE")
        try:
            reason = _set_up_schema(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    except BaseException:
        connection.close()
        raise
    return connection, reason


def _schema_version(connection: sqlite3.Connection) -> int:
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    return version


def _set_up_schema(connection: sqlite3.Connection) -> str | None:
    """Create our tables (inside the caller's transaction); say why when others were dropped."""
    version = _schema_version(connection)
    if version == SCHEMA_VERSION:
        return None  # another process got there first
    objects = connection.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"
        " AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    for kind, name in objects:
        connection.execute(f'DROP {kind.upper()} IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"')
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if version == 0 and not objects:
        return None
    return f"it had schema version {version}, this basepin uses {SCHEMA_VERSION}"


def _remove_database(path: Path) -> None:
    # The WAL and shared-memory files belong to the old database and must go with it.
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
