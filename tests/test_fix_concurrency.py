"""Several `basepin fix` processes on one tree at once (pre-commit runs hooks in parallel,
editors save mid-run), against a real registry: every file ends up as its original bytes with
each reference pinned exactly once, and a writer that saves the files meanwhile loses nothing.

The expected bytes are built here from the templates and the digests the registry gave when
the images were pushed, not by basepin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fixtures.registry import PushedImage, Registry, push_image
from fixtures.runs import USER_CREDENTIALS, closed_port

FIXERS = 8
FILES = 20
# Each file names three images in the ways a Dockerfile can: an ARG default used by FROM, a
# FROM operand, and a mount and a COPY --from of one more; with CRLF, a BOM and text that is
# not ASCII around them.
TEMPLATE = (
    "\ufeff# service {number}: é and 🐳\n"
    "ARG BASE={base}\n"
    "FROM ${{BASE}} AS build\r\n"
    "RUN --mount=type=cache,target=/c --mount=from={tool},target=/t true\n"
    "FROM {runtime} AS run\n"
    "COPY --from={tool} /t /t\n"
    "# file {number}\n"
)
# The writer's lock is the one basepin takes (flock on the file, following a replaced file):
# a program that saves files this way loses nothing to a fix, and a fix nothing to it.
WRITER = r"""
import fcntl, json, os, sys, time

paths, stop = sys.argv[1:-1], sys.argv[-1]
counts = dict.fromkeys(paths, 0)

def locked(path):
    while True:
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            return fd
        os.close(fd)

print("started", flush=True)
while not os.path.exists(stop):
    for path in paths:
        fd = locked(path)
        try:
            with open(path, "rb") as stream:
                data = stream.read()
            data += b"# saved by the writer %d\n" % counts[path]
            # Saved as editors save, through a file of another name that no check reads.
            temporary = os.path.join(os.path.dirname(path), ".writer.tmp")
            with open(temporary, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
            counts[path] += 1
        finally:
            os.close(fd)
        time.sleep(0.002)
print(json.dumps(counts), flush=True)
"""


@pytest.fixture
def images(plain_registry: Registry) -> list[PushedImage]:
    # One repository each: tags of one repository would be newer versions of each other.
    run = uuid.uuid4().hex[:8]
    return [
        push_image(plain_registry, f"acme/concurrent-{run}-{n}", "1.0", platforms=platforms)
        for n, platforms in enumerate([None, ["linux/amd64", "linux/arm64"], None, None])
    ]


def render(images: list[PushedImage], number: int, *, pinned: bool) -> bytes:
    def ref(index: int) -> str:
        image = images[(number + index) % len(images)]
        return f"{image.reference}@{image.digest}" if pinned else image.reference

    text = TEMPLATE.format(base=ref(0), tool=ref(1), runtime=ref(2), number=number)
    return text.encode()


def make_tree(root: Path, images: list[PushedImage]) -> dict[Path, bytes]:
    expected = {}
    for number in range(FILES):
        path = root / f"svc-{number:02d}" / "Dockerfile"
        path.parent.mkdir(parents=True)
        path.write_bytes(render(images, number, pinned=False))
        expected[path] = render(images, number, pinned=True)
    return expected


def environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in USER_CREDENTIALS}
    # One cache for all of them, as runs on one machine share it.
    env.update(
        BASEPIN_HUB_URL=f"http://127.0.0.1:{closed_port()}",
        BASEPIN_CACHE_DIR=str(tmp_path / "cache"),
        DOCKER_CONFIG=str(tmp_path / "docker-config"),
    )
    return env


def run_fixers(root: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    """Start the fixers together (the installed `basepin` command) and wait for them all."""
    command = [str(Path(sys.executable).with_name("basepin")), "fix", "."]
    processes = [
        subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(FIXERS)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def assert_each_file_fixed_once(results: list[subprocess.CompletedProcess[str]]) -> None:
    fixed: list[str] = []
    for result in results:
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        assert "not fixed" not in result.stderr
        assert "cannot write" not in result.stderr
        assert result.stdout == "", result.stdout  # no finding left
        fixed += [line for line in result.stderr.splitlines() if line.startswith("basepin: fixed")]
    # Whoever held a file's lock first made all of its edits; the others found them made.
    assert sorted(fixed) == [
        f"basepin: fixed svc-{number:02d}/Dockerfile (4 edits)" for number in range(FILES)
    ]


def test_concurrent_fixes_pin_each_reference_exactly_once(
    images: list[PushedImage], tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    expected = make_tree(root, images)
    results = run_fixers(root, environment(tmp_path))
    assert_each_file_fixed_once(results)
    for path, data in expected.items():
        assert path.read_bytes() == data, path
        assert path.read_bytes().count(b"@sha256:") == 4
    assert sorted(p.name for p in root.iterdir()) == [f"svc-{n:02d}" for n in range(FILES)]
    for folder in root.iterdir():
        assert [p.name for p in folder.iterdir()] == ["Dockerfile"]  # no temporary left


def test_concurrent_fixes_and_a_writer_lose_no_byte(
    images: list[PushedImage], tmp_path: Path
) -> None:
    root = tmp_path / "tree"
    expected = make_tree(root, images)
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, *map(str, expected), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == "started\n"
    time.sleep(0.1)  # the writer is under way before the fixers start, and after they end
    results = run_fixers(root, environment(tmp_path))
    stop.touch()
    counts: dict[str, int] = json.loads(writer.communicate(timeout=60)[0])
    assert writer.returncode == 0
    assert_each_file_fixed_once(results)
    for path, data in expected.items():
        saved = b"".join(b"# saved by the writer %d\n" % n for n in range(counts[str(path)]))
        assert counts[str(path)] > 1
        assert path.read_bytes() == data + saved, path
