from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.digests import is_digest
from basepin.model import DigestInfo, Platform, TagInfo
from basepin.registry.cache import Cache, CachedTag, default_folder
from basepin.registry.cache_file import FILE_NAME, SCHEMA_VERSION

INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
SHA = DIGEST_A
OCI_INDEX = INDEX
PUSHED = datetime(2024, 6, 1, 12, 34, 56, 123456, tzinfo=timezone.utc)


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time


def open_cache(folder: Path, clock: Clock | None = None, **kwargs: float) -> Cache:
    return Cache.open(folder, now=clock or Clock(), **kwargs)


def test_tag_round_trip(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    value = CachedTag(DIGEST_A, INDEX, PUSHED, 52_428_800)
    cache.put_tag("docker.io", "library/python", "3.12", value)

    assert cache.get_tag("docker.io", "library/python", "3.12") == value
    assert cache.get_tag("docker.io", "library/python", "3.13") is None
    assert cache.get_tag("ghcr.io", "library/python", "3.12") is None
    assert cache.warnings == []


def test_tag_is_overwritten(tmp_path: Path) -> None:
    cache = open_cache(tmp_path)
    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))
    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_B, INDEX))

    assert cache.get_tag("docker.io", "library/python", "3.12") == CachedTag(DIGEST_B, INDEX)


@pytest.mark.parametrize(
    ("age", "fresh"),
    [
        pytest.param(0.0, True, id="just-stored"),
        pytest.param(599.0, True, id="within-ttl"),
        pytest.param(600.0, False, id="at-ttl"),
        pytest.param(3600.0, False, id="long-expired"),
        pytest.param(-5.0, False, id="clock-went-back"),
    ],
)
def test_tag_expires_after_ttl(tmp_path: Path, age: float, fresh: bool) -> None:
    clock = Clock()
    cache = open_cache(tmp_path, clock, tag_ttl=600.0)
    cache.put_tag("docker.io", "library/alpine", "3.20", CachedTag(DIGEST_A))
    clock.time += age

    found = cache.get_tag("docker.io", "library/alpine", "3.20")

    assert (found is not None) is fresh


def test_digest_facts_are_kept_forever(tmp_path: Path) -> None:
    clock = Clock()
    info = DigestInfo(
        digest=DIGEST_A,
        media_type=INDEX,
        platforms=(Platform("linux", "amd64"), Platform("linux", "arm64", "v8")),
        is_index=True,
        created=PUSHED,
        size=31_457_280,
    )
    open_cache(tmp_path, clock).put_digest("docker.io", "library/python", info)
    clock.time += 10 * 365 * 24 * 3600

    later = open_cache(tmp_path, clock)

    assert later.get_digest("docker.io", "library/python", DIGEST_A) == info
    assert later.get_digest("docker.io", "library/python", DIGEST_B) is None


def test_tag_list_round_trip_and_expiry(tmp_path: Path) -> None:
    clock = Clock()
    cache = open_cache(tmp_path, clock, list_ttl=60.0)
    tags = (TagInfo("3.13", DIGEST_A, PUSHED, 100, pushed_source="hub"), TagInfo("3.12"))
    cache.put_tag_list("hub.docker.com", "library/python", tags)

    assert cache.get_tag_list("hub.docker.com", "library/python") == tags
    assert cache.get_tag_list("docker.io", "library/python") is None
    clock.time += 60
    assert cache.get_tag_list("hub.docker.com", "library/python") is None


def test_facts_survive_a_new_process_connection(tmp_path: Path) -> None:
    clock = Clock()
    first = open_cache(tmp_path, clock)
    first.put_tag("docker.io", "library/node", "22", CachedTag(DIGEST_A, INDEX))
    first.close()

    assert open_cache(tmp_path, clock).get_tag("docker.io", "library/node", "22") == CachedTag(
        DIGEST_A, INDEX
    )


def test_disabled_cache_stores_nothing(tmp_path: Path) -> None:
    cache = Cache.open(None)
    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))

    assert not cache.enabled
    assert cache.get_tag("docker.io", "library/python", "3.12") is None
    assert cache.path is None
    assert cache.warnings == []


def test_nothing_is_created_until_an_answer_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    cache = Cache.open(folder)
    assert not folder.exists()

    assert cache.get_tag("docker.io", "library/python", "3.12") is None
    assert not folder.exists()

    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))
    assert (folder / FILE_NAME).is_file()
    assert cache.get_tag("docker.io", "library/python", "3.12") == CachedTag(DIGEST_A)
    assert cache.warnings == []


def test_reading_a_missing_cache_loads_no_sqlite(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from basepin.registry.cache import Cache\n"
        f"cache = Cache.open(Path({str(tmp_path)!r}))\n"
        "assert cache.get_tag('docker.io', 'library/python', '3.12') is None\n"
        "print('sqlite3' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(b"this is not a database\n" * 10, id="text-file"),
        pytest.param(b"SQLite format 3\x00" + b"\xff" * 200, id="truncated-header"),
    ],
)
def test_damaged_file_is_rebuilt_with_a_warning(tmp_path: Path, damage: bytes) -> None:
    (tmp_path / FILE_NAME).write_bytes(damage)
    cache = open_cache(tmp_path)

    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))

    assert cache.get_tag("docker.io", "library/python", "3.12") == CachedTag(DIGEST_A)
    assert len(cache.warnings) == 1
    assert "rebuilt" in cache.warnings[0]
    assert str(tmp_path / FILE_NAME) in cache.warnings[0]


def test_other_schema_version_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / FILE_NAME) as old:
        old.execute("CREATE TABLE tags (name TEXT)")
        old.execute("CREATE VIEW old_view AS SELECT name FROM tags")
        old.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    old.close()
    cache = open_cache(tmp_path)

    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))

    assert cache.get_tag("docker.io", "library/python", "3.12") == CachedTag(DIGEST_A)
    assert len(cache.warnings) == 1
    assert f"schema version {SCHEMA_VERSION + 1}" in cache.warnings[0]


def test_foreign_database_without_version_is_rebuilt(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / FILE_NAME) as foreign:
        foreign.execute("CREATE TABLE notes (body TEXT)")
    foreign.close()
    cache = open_cache(tmp_path)

    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))

    assert cache.get_tag("docker.io", "library/python", "3.12") == CachedTag(DIGEST_A)
    assert len(cache.warnings) == 1


def _folder_under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way\n")
    return blocker / "basepin"


def _cache_file_is_a_folder(tmp_path: Path) -> Path:
    (tmp_path / FILE_NAME).mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "make_folder",
    [
        pytest.param(_folder_under_a_file, id="folder-cannot-be-created"),
        pytest.param(_cache_file_is_a_folder, id="file-cannot-be-opened"),
    ],
)
def test_unusable_folder_is_bypassed_with_a_warning(
    tmp_path: Path, make_folder: Callable[[Path], Path]
) -> None:
    folder = make_folder(tmp_path)
    cache = open_cache(folder)

    cache.put_tag("docker.io", "library/python", "3.12", CachedTag(DIGEST_A))
    found = cache.get_tag("docker.io", "library/python", "3.12")

    assert found is None
    assert not cache.enabled
    assert len(cache.warnings) == 1
    assert str(folder) in cache.warnings[0]


def test_unusable_cache_warns_once(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = open_cache(blocker)

    for tag in ("1", "2", "3"):
        cache.put_tag("docker.io", "library/busybox", tag, CachedTag(DIGEST_A))
        cache.get_tag("docker.io", "library/busybox", tag)

    assert len(cache.warnings) == 1


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        pytest.param("linux", {}, "/home/u/.cache/basepin", id="linux-default"),
        pytest.param(
            "linux", {"XDG_CACHE_HOME": "/var/cache/u"}, "/var/cache/u/basepin", id="linux-xdg"
        ),
        pytest.param(
            "linux", {"XDG_CACHE_HOME": "rel/cache"}, "/home/u/.cache/basepin", id="xdg-relative"
        ),
        pytest.param("darwin", {}, "/home/u/Library/Caches/basepin", id="macos"),
        pytest.param("win32", {"LOCALAPPDATA": "/appdata"}, "/appdata/basepin/Cache", id="windows"),
        pytest.param(
            "win32", {}, "/home/u/AppData/Local/basepin/Cache", id="windows-no-localappdata"
        ),
    ],
)
def test_default_folder(platform: str, env: dict[str, str], expected: str) -> None:
    assert default_folder(env, platform, Path("/home/u")) == Path(expected)


aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-7))]),
)


@given(
    tag=st.text(min_size=1, max_size=40),
    digest=st.sampled_from("0123456789abcdef").map(lambda c: "sha256:" + c * 64)
    | st.text(alphabet="0123456789abcdef", min_size=128, max_size=128).map("sha512:".__add__),
    media_type=st.none() | st.text(max_size=60),
    pushed=st.none() | aware_times,
    size=st.none() | st.integers(min_value=0, max_value=2**62),
    verified=st.booleans(),
)
def test_any_tag_answer_round_trips(
    tmp_path_factory: pytest.TempPathFactory,
    tag: str,
    digest: str,
    media_type: str | None,
    pushed: datetime | None,
    size: int | None,
    verified: bool,
) -> None:
    cache = open_cache(tmp_path_factory.mktemp("cache"))
    value = CachedTag(digest, media_type, pushed, size, verified)
    cache.put_tag("docker.io", "library/x", tag, value)

    assert cache.get_tag("docker.io", "library/x", tag) == value
    cache.close()


@settings(max_examples=50, deadline=None)
@given(digest=st.text(max_size=140).filter(lambda text: not is_digest(text)))
def test_a_stored_value_that_is_not_a_digest_answers_nothing(
    tmp_path_factory: pytest.TempPathFactory, digest: str
) -> None:
    """A cache file written by anything else (or damaged) never hands on a digest that is not
    one: it would be written into a Dockerfile."""
    cache = open_cache(tmp_path_factory.mktemp("cache"))
    cache.put_tag("docker.io", "library/x", "1", CachedTag(digest, verified=True))
    cache.put_tag_list("docker.io", "library/x", [TagInfo("1", digest)])
    cache.put_digest(
        "docker.io", "library/x", DigestInfo(SHA, OCI_INDEX, is_index=True, children=(digest,))
    )

    assert cache.get_tag("docker.io", "library/x", "1") is None
    assert cache.get_tag_list("docker.io", "library/x") == (TagInfo("1", None),)
    assert cache.get_digest("docker.io", "library/x", SHA) is None
    cache.close()


WORKERS = 6
ROUNDS = 40


def _hammer(folder: str, worker: int) -> None:
    """Write and read tags, digests and lists at the same time as the other workers."""
    cache = Cache.open(Path(folder))
    for round_ in range(ROUNDS):
        digest = f"sha256:{worker:02d}{round_:062d}"
        cache.put_tag("docker.io", "library/python", f"w{worker}-{round_}", CachedTag(digest))
        cache.put_tag("docker.io", "library/python", "shared", CachedTag(digest))
        cache.put_digest(
            "docker.io", "library/python", DigestInfo(digest, INDEX, (Platform("linux", "amd64"),))
        )
        cache.put_tag_list("hub.docker.com", "library/python", [TagInfo(f"w{worker}-{round_}")])
        cache.get_tag("docker.io", "library/python", "shared")
        cache.get_tag_list("hub.docker.com", "library/python")
    if cache.warnings:
        raise SystemExit("; ".join(cache.warnings))
    cache.close()


def test_concurrent_processes_leave_a_valid_database(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), n)) for n in range(WORKERS)]
    for process in workers:
        process.start()
    for process in workers:
        process.join()

    assert [process.exitcode for process in workers] == [0] * WORKERS
    with sqlite3.connect(tmp_path / FILE_NAME) as check:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("SELECT count(*) FROM tags").fetchone() == (WORKERS * ROUNDS + 1,)
        assert check.execute("SELECT count(*) FROM digests").fetchone() == (WORKERS * ROUNDS,)
    check.close()
    cache = Cache.open(tmp_path)
    assert cache.get_tag("docker.io", "library/python", "shared") is not None
    assert cache.get_tag_list("hub.docker.com", "library/python") is not None
    assert cache.warnings == []


def test_cache_does_not_import_the_http_stack() -> None:
    probe = "import sys, basepin.registry.cache; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)

    assert result.stdout.strip() == "False", result.stderr


def test_index_children_are_kept(tmp_path: Path) -> None:
    cache = Cache.open(tmp_path)
    index = DigestInfo(
        "sha256:" + "a" * 64,
        "application/vnd.oci.image.index.v1+json",
        (Platform("linux", "amd64"), Platform("linux", "arm64", "v8")),
        is_index=True,
        children=("sha256:" + "b" * 64, "sha256:" + "c" * 64),
    )
    cache.put_digest("ghcr.io", "acme/app", index)
    cache.close()
    assert Cache.open(tmp_path).get_digest("ghcr.io", "acme/app", index.digest) == index
