"""End to end: pin every image the extractor finds, re-read the result, compare byte by byte.

Every real Dockerfile and every conformance case is read, each resolved use whose span holds
its reference as written gets `@sha256:<hex>` (replacing a digest already there), the edits
are applied (held to the spans the reader finds, as `basepin fix` holds them), and the result
must read back with those uses pinned, every other use as it was, and every byte outside the
edited spans unchanged; planned again on the result, every edit is found made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from basepin.extract.dockerfile import parse_dockerfile
from basepin.fix import plan_changes, plan_file
from basepin.model import Edit, ImageUse, ParsedDockerfile

DATA = Path(__file__).parent / "data"
REAL = DATA / "real-dockerfiles"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text("utf-8"))
CASES: list[dict[str, Any]] = json.loads(
    (DATA / "conformance" / "dockerfile-references.json").read_text("utf-8")
)["cases"]


def pinned(reference: str) -> str:
    name = reference.partition("@")[0]
    return f"{name}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def span_key(use: ImageUse) -> tuple[int, int]:
    return use.span.start, use.span.end


def pinnable_spans(parsed: ParsedDockerfile) -> set[tuple[int, int]]:
    """Spans of resolved uses that hold the reference exactly as it is read."""
    return {
        span_key(use)
        for use in parsed.uses
        if use.resolved and parsed.text[use.span.start : use.span.end] == use.reference
    }


def pin_edit(parsed: ParsedDockerfile, use: ImageUse) -> Edit:
    span = use.span
    return Edit(
        parsed.path,
        span.line,
        span.column,
        span.end_column,
        span.start,
        span.end,
        use.reference,
        pinned(use.reference),
    )


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogateescape"))


def fix_and_verify(data: bytes, path: str, build_args: Mapping[str, str] | None) -> int:
    """Pin what can be pinned, check the result; return how many spans were edited."""
    parsed = parse_dockerfile(data, path, build_args)
    spans = pinnable_spans(parsed)
    edits = [pin_edit(parsed, use) for use in parsed.uses if span_key(use) in spans]
    if not edits:
        return 0

    def reference_spans(name: str, raw: bytes) -> set[tuple[int, int]]:
        return {span_key(use) for use in parse_dockerfile(raw, name, build_args).uses}

    (change,) = plan_changes(edits, lambda name: {path: data}[name], spans=reference_spans)
    assert change.refused == ()
    assert len(change.applied) == len(spans)
    # Planned again on the fixed file (as a run that lost the race for its lock does), every
    # edit is found made: none is applied twice.
    again = plan_file(path, list(reversed(edits)), change.after, reference_spans)
    assert (again.after, again.applied, again.refused) == (change.after, (), ())
    assert set(again.done) == set(edits)

    # Only the spans changed, and they changed to the pinned reference.
    expected = bytearray()
    position = 0
    for edit in change.applied:
        expected += data[position : byte_offset(parsed.text, edit.start)]
        expected += edit.replacement.encode()
        position = byte_offset(parsed.text, edit.end)
    expected += data[position:]
    assert change.after == bytes(expected)

    reread = parse_dockerfile(change.after, path, build_args)
    assert [(u.kind, u.stage, u.resolved) for u in reread.uses] == [
        (u.kind, u.stage, u.resolved) for u in parsed.uses
    ]
    for old, new in zip(parsed.uses, reread.uses, strict=True):
        edited = span_key(old) in spans
        assert new.reference == (pinned(old.reference) if edited else old.reference)
        assert new.span.line == old.span.line
    # The same problems, where they were (their offsets move with the longer text before them).
    assert [p._replace(offset=0) for p in reread.problems] == [
        p._replace(offset=0) for p in parsed.problems
    ]
    return len(spans)


REAL_FILES = [pytest.param(entry["file"], id=entry["file"]) for entry in MANIFEST]


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_dockerfile_is_pinned_byte_exact(name: str) -> None:
    fix_and_verify((REAL / "files" / name).read_bytes(), name, None)


@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"]) for case in CASES])
def test_conformance_dockerfile_is_pinned_byte_exact(case: dict[str, Any]) -> None:
    fix_and_verify(case["dockerfile"].encode("utf-8"), "Dockerfile", case.get("build_args"))


def test_most_files_have_something_to_pin() -> None:
    # A floor, so that a change in the extractor's spans cannot make the tests above vacuous.
    real = sum(
        fix_and_verify((REAL / "files" / e["file"]).read_bytes(), e["file"], None) > 0
        for e in MANIFEST
    )
    conformance = sum(
        fix_and_verify(c["dockerfile"].encode("utf-8"), "Dockerfile", c.get("build_args")) > 0
        for c in CASES
    )
    assert real >= 115
    assert conformance >= 107
