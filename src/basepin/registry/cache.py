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
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

from basepin.digests import is_digest
from basepin.model import DigestInfo, Platform, TagInfo
from basepin.records import NamedTuple
from basepin.registry.cache_file import CacheFile

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


class Cache(CacheFile):
    """Registry and OSV answers kept across runs, in the cache file (see `CacheFile`)."""

    def __init__(
        self,
        folder: Path | None,
        *,
        tag_ttl: float,
        list_ttl: float,
        now: Callable[[], float],
    ) -> None:
        super().__init__(folder)
        self.tag_ttl = tag_ttl
        self.list_ttl = list_ttl
        self._now = now

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

    def _fresh(self, stored_at: float, ttl: float) -> bool:
        # A clock that went backwards makes the entry's age unknown: treat it as stale.
        age = self._now() - stored_at
        return 0 <= age < ttl


def _format_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromisoformat(value)
