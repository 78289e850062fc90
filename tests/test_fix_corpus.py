"""`basepin fix` on the whole conformance corpus against a real registry.

Every registry the corpus names is mirrored to one local registry, which holds an image for
each tag the corpus uses. After one `basepin fix` run each file must re-extract to pinned
references, with no byte changed outside the reference spans.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from basepin.cli import main
from basepin.errors import InvalidReference
from basepin.extract.dockerfile import parse_dockerfile
from basepin.model import ImageUse
from basepin.reference import ImageReference, parse_reference
from fixtures.registry import Registry, push_image

CORPUS = Path(__file__).parent / "data" / "conformance" / "dockerfile-references.json"
REAL = Path(__file__).parent / "data" / "real-dockerfiles"


def _pinnable(use: ImageUse) -> ImageReference | None:
    if not use.resolved:
        return None
    try:
        ref = parse_reference(use.reference)
    except InvalidReference:
        return None
    return ref if ref.digest is None else None


def _rebuilt(before: str, old: list[ImageUse], new: list[ImageUse], after: str) -> str:
    """`before` with each old reference span replaced by the text now at the same use's span."""
    spans = {
        (o.span.start, o.span.end): after[n.span.start : n.span.end]
        for o, n in zip(old, new, strict=True)
    }
    text = before
    for (start, end), replacement in sorted(spans.items(), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _conformance() -> dict[str, bytes]:
    cases = json.loads(CORPUS.read_text())["cases"]
    return {f"{n:03d}.Dockerfile": case["dockerfile"].encode() for n, case in enumerate(cases)}


def _real() -> dict[str, bytes]:
    manifest = json.loads((REAL / "manifest.json").read_text())
    return {entry["file"]: (REAL / "files" / entry["file"]).read_bytes() for entry in manifest}


# How many files get fixed, and how many references stay unpinned with the reason said: exact,
# so that a fix lost (or a reason given where a fix was due) shows.
@pytest.mark.parametrize(
    ("files", "fixed_files", "left_with_reason"),
    [pytest.param(_conformance, 104, 6, id="conformance"), pytest.param(_real, 124, 31, id="real")],
)
def test_fix_pins_a_corpus_byte_exact(
    plain_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: Callable[[], dict[str, bytes]],
    fixed_files: int,
    left_with_reason: int,
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    before: dict[Path, bytes] = {}
    pushed: set[tuple[str, str]] = set()
    hosts: set[str] = set()
    for name, data in files().items():
        path = folder / name
        path.write_bytes(data)
        before[path] = data
        for use in parse_dockerfile(data, str(path)).uses:
            ref = _pinnable(use)
            if ref is None:
                continue
            hosts.add(ref.registry)
            if (ref.repository, ref.effective_tag or "") in pushed:
                continue
            pushed.add((ref.repository, ref.effective_tag or ""))
            push_image(plain_registry, ref.repository, ref.effective_tag, seed=ref.canonical())

    monkeypatch.setenv("BASEPIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BASEPIN_HUB_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    mirrors = [
        arg
        for host in sorted(hosts)
        for arg in ("--registry-mirror", f"{host}={plain_registry.url}")
    ]
    os.chdir(folder)
    assert main(["fix", *mirrors, "--no-cache", "."]) == 1
    capsys.readouterr()

    # What stays unpinned is what the spec leaves alone: an ARG default that cannot carry the
    # digest (`node:${VERSION}-alpine`), said in the finding.
    assert main(["check", *mirrors, "--no-cache", "--format", "json", "."]) == 1
    left = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "unpinned"]
    assert all("not fixed: " in f["message"] for f in left), [
        f["message"] for f in left if "not fixed: " not in f["message"]
    ]
    refused = {(Path(f["path"]).name, f["line"]) for f in left}

    fixed = verified = needing = 0
    for path, data in before.items():
        after = path.read_bytes()
        old = list(parse_dockerfile(data, str(path)).uses)
        new = list(parse_dockerfile(after, str(path)).uses)
        assert [u.kind for u in new] == [u.kind for u in old], path
        needing += any(_pinnable(u) is not None for u in old)
        for old_use, new_use in zip(old, new, strict=True):
            if _pinnable(old_use) is not None and (path.name, old_use.span.line) not in refused:
                assert parse_reference(new_use.reference).digest is not None, (path, old_use)
        if after != data:
            fixed += 1
            text_before = data.decode("utf-8", "surrogateescape")
            text_after = after.decode("utf-8", "surrogateescape")
            assert _rebuilt(text_before, old, new, text_after) == text_after, path
            verified += 1
    assert (fixed, len(refused)) == (fixed_files, left_with_reason)
    print(
        f"corpus: {needing} of {len(before)} Dockerfiles had unpinned references; {fixed} fixed "
        f"and verified byte-exact; {len(refused)} references left with a reason"
    )
