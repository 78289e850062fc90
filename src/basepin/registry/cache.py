"""Cross-run cache of registry answers, in one SQLite file in the user's cache folder.

Two kinds of facts: what a tag points to (expires after a TTL, tags move) and what a digest
is (kept: a digest's content never changes; a digest only known to exist, from a HEAD, is kept
as partial and never stands in for its facts). Tag lists expire like tags. For the
`vulnerable` rule also what a digest's SBOM lists (kept, as a digest's facts are), OSV's
answer for a package version (expires after a day: advisories are published every day) and
what basepin keeps of an OSV record (kept: the key holds the record's `modified` time).
Several basepin processes may share the file at once (pre-commit runs hooks in parallel):
WAL mode, a busy timeout and single-statement upserts keep it consistent. The cache is an
optimisation only, so a broken file or folder never fails a run: it is rebuilt or bypassed,
with a warning.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from basepin.digests import is_digest
from basepin.model import DigestInfo, Platform, TagInfo
from basepin.records import NamedTuple

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


# How much of a digest's facts a row holds (the `partial` column): all of them, what its
# manifest tells of itself (an index's platforms), or only that it exists (a HEAD).
_FACTS, _OUTLINE, _EXISTS = 0, 1, 2


class CachedTag(NamedTuple):
    """What a tag pointed to when it was last asked."""

    digest: str
    media_type: str | None = None
    pushed: datetime | None = None
    size: int | None = None
    # Whether `digest` was confirmed (the bytes hashed, or on Docker Hub the Hub API agreeing
    # with the registry): only a confirmed digest may be written anywhere.
    verified: bool = False


def default_folder(
    env: Mapping[str, str] | None = None, platform: str = sys.platform, home: Path | None = None
) -> Path:
    """The user's cache folder for basepin, by the platform's convention."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if platform == "win32":
        local = env.get("LOCALAPPDATA")
        base = Path(local) if local else home / "AppData" / "Local"
        return base / "basepin" / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / "basepin"
    xdg = env.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".cache"
    return base / "basepin"


class Cache:
    """A lazily opened connection to the cache file; disabled when there is no folder.

    Problems with the file land in `warnings` (for the caller to print) and switch the cache
    off for the rest of the process rather than fail.
    """

    def __init__(
        self,
        folder: Path | None,
        *,
        tag_ttl: float,
        list_ttl: float,
        now: Callable[[], float],
    ) -> None:
        self.folder = folder
        self.tag_ttl = tag_ttl
        self.list_ttl = list_ttl
        self.warnings: list[str] = []
        self._now = now
        self._connection: sqlite3.Connection | None = None
        self._disabled = folder is None
        # One connection per process; the lock lets worker threads share it.
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        folder: Path | None,
        *,
        tag_ttl: float = 600.0,
        list_ttl: float = 600.0,
        now: Callable[[], float] = time.time,
    ) -> Cache:
        """A cache kept in `folder`, or a disabled one that stores nothing when it is None.

        Nothing touches the disk until the first lookup, and nothing is created until the
        first answer is kept.
        """
        return cls(folder, tag_ttl=tag_ttl, list_ttl=list_ttl, now=now)

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / FILE_NAME

    @property
    def enabled(self) -> bool:
        return not self._disabled

    def get_tag(self, registry: str, repository: str, tag: str) -> CachedTag | None:
        row = self._fetch(
            "SELECT digest, media_type, pushed, size, stored_at, verified FROM tags"
            " WHERE registry = ? AND repository = ? AND tag = ?",
            (registry, repository, tag),
        )
        if row is None or not self._fresh(row[4], self.tag_ttl) or not is_digest(row[0]):
            return None
        try:
            return CachedTag(row[0], row[1], _parse_time(row[2]), row[3], bool(row[5]))
        except ValueError:
            return None

    def put_tag(self, registry: str, repository: str, tag: str, value: CachedTag) -> None:
        self._write(
            "INSERT INTO tags (registry, repository, tag, digest, media_type, pushed, size,"
            " verified, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (registry, repository, tag) DO UPDATE SET digest = excluded.digest,"
            " media_type = excluded.media_type, pushed = excluded.pushed, size = excluded.size,"
            " verified = excluded.verified, stored_at = excluded.stored_at"
            # A HEAD's claim never replaces the same digest confirmed.
            " WHERE excluded.verified >= tags.verified OR excluded.digest != tags.digest",
            (
                registry,
                repository,
                tag,
                value.digest,
                value.media_type,
                _format_time(value.pushed),
                value.size,
                int(value.verified),
                self._now(),
            ),
        )

    def get_digest(
        self,
        registry: str,
        repository: str,
        digest: str,
        *,
        partial: bool = False,
        outline: bool = False,
    ) -> DigestInfo | None:
        """The facts of `digest`; with `partial`, also only that the digest exists, or with
        `outline` also what its manifest tells of itself."""
        row = self._fetch(
            "SELECT media_type, is_index, platforms, created, size, children, created_source"
            " FROM digests"
            " WHERE registry = ? AND repository = ? AND digest = ? AND partial <= ?",
            (registry, repository, digest, _OUTLINE if outline else _EXISTS if partial else _FACTS),
        )
        if row is None:
            return None
        try:
            children = tuple(str(child) for child in json.loads(row[5]))
            if not all(map(is_digest, children)):
                return None
            platforms = tuple(Platform(*entry) for entry in json.loads(row[2]))
            return DigestInfo(
                digest=digest,
                media_type=row[0],
                platforms=platforms,
                is_index=bool(row[1]),
                children=children,
                created=_parse_time(row[3]),
                size=row[4],
                created_source=row[6] if row[6] in ("annotation", "config") else None,
            )
        except (ValueError, TypeError):
            return None

    def put_digest(
        self,
        registry: str,
        repository: str,
        info: DigestInfo,
        *,
        partial: bool = False,
        outline: bool = False,
    ) -> None:
        """Keep the facts of a digest; `partial`: only that it exists, or with `outline` what
        its manifest tells of itself (never replacing more)."""
        platforms = json.dumps([[p.os, p.architecture, p.variant] for p in info.platforms])
        self._write(
            "INSERT INTO digests (registry, repository, digest, media_type, is_index, platforms,"
            " children, created, size, partial, created_source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (registry, repository, digest) DO UPDATE SET"
            " media_type = excluded.media_type, is_index = excluded.is_index,"
            " platforms = excluded.platforms, children = excluded.children,"
            " created = excluded.created, size = excluded.size, partial = excluded.partial,"
            " created_source = excluded.created_source"
            " WHERE excluded.partial <= digests.partial",
            (
                registry,
                repository,
                info.digest,
                info.media_type,
                int(info.is_index),
                platforms,
                json.dumps(list(info.children)),
                _format_time(info.created),
                info.size,
                (_OUTLINE if outline else _EXISTS) if partial else _FACTS,
                info.created_source,
            ),
        )

    def get_tag_list(self, registry: str, repository: str) -> tuple[TagInfo, ...] | None:
        """The stored tags of a repository while fresh.

        Lists from different sources (the registry's names-only list, the Docker Hub API's
        dated list) are kept apart by the `registry` key the caller passes.
        """
        row = self._fetch(
            "SELECT tags, stored_at FROM tag_lists WHERE registry = ? AND repository = ?",
            (registry, repository),
        )
        if row is None or not self._fresh(row[1], self.list_ttl):
            return None
        try:
            # Only the Docker Hub API's lists carry dates.
            return tuple(
                TagInfo(
                    name,
                    digest if is_digest(digest) else None,
                    when := _parse_time(pushed),
                    size,
                    pushed_source=None if when is None else "hub",
                )
                for name, digest, pushed, size in json.loads(row[0])
            )
        except (ValueError, TypeError):
            return None

    def put_tag_list(self, registry: str, repository: str, tags: Iterable[TagInfo]) -> None:
        encoded = json.dumps([[t.name, t.digest, _format_time(t.pushed), t.size] for t in tags])
        self._write(
            "INSERT INTO tag_lists (registry, repository, tags, stored_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (registry, repository) DO UPDATE SET tags = excluded.tags,"
            " stored_at = excluded.stored_at",
            (registry, repository, encoded, self._now()),
        )

    def get_sbom(self, registry: str, repository: str, digest: str, platforms: str) -> str | None:
        """What `put_sbom` kept for the digest's SBOM of `platforms` (JSON text)."""
        row = self._fetch(
            "SELECT packages FROM sboms WHERE registry = ? AND repository = ? AND digest = ?"
            " AND platforms = ?",
            (registry, repository, digest, platforms),
        )
        return None if row is None else str(row[0])

    def put_sbom(
        self, registry: str, repository: str, digest: str, platforms: str, packages: str
    ) -> None:
        self._write(
            "INSERT INTO sboms (registry, repository, digest, platforms, packages)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry, repository, digest, platforms)"
            " DO UPDATE SET packages = excluded.packages",
            (registry, repository, digest, platforms, packages),
        )

    def get_osv_hits(self, ecosystem: str, name: str, version: str, ttl: float) -> str | None:
        """OSV's answer for one package version (JSON text), while younger than `ttl`."""
        row = self._fetch(
            "SELECT hits, stored_at FROM osv_queries"
            " WHERE ecosystem = ? AND name = ? AND version = ?",
            (ecosystem, name, version),
        )
        if row is None or not self._fresh(row[1], ttl):
            return None
        return str(row[0])

    def put_osv_hits(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Keep OSV's answers (ecosystem, name, version, hits as JSON text), in one
        transaction: a batch answers a thousand package versions."""
        now = self._now()
        self._write_many(
            "INSERT INTO osv_queries (ecosystem, name, version, hits, stored_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ecosystem, name, version)"
            " DO UPDATE SET hits = excluded.hits, stored_at = excluded.stored_at",
            [(*row, now) for row in rows],
        )

    def get_osv_record(self, identifier: str, modified: str) -> str | None:
        row = self._fetch(
            "SELECT advisory FROM osv_records WHERE id = ? AND modified = ?",
            (identifier, modified),
        )
        return None if row is None else str(row[0])

    def put_osv_record(self, identifier: str, modified: str, advisory: str) -> None:
        self._write(
            "INSERT INTO osv_records (id, modified, advisory) VALUES (?, ?, ?)"
            " ON CONFLICT (id, modified) DO UPDATE SET advisory = excluded.advisory",
            (identifier, modified, advisory),
        )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _fresh(self, stored_at: float, ttl: float) -> bool:
        # A clock that went backwards makes the entry's age unknown: treat it as stale.
        age = self._now() - stored_at
        return 0 <= age < ttl

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


def _format_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromisoformat(value)
