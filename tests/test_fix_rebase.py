"""Properties of a fix written to disk, held to the spans the Dockerfile reader finds: around
any bytes (not UTF-8, CRLF, a BOM, continuations, quotes) only the edited spans change, and
when another run made some of the edits first, the others still land where they belong and
none is made twice."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basepin.extract.dockerfile import parse_dockerfile
from basepin.fix import FileChange, fix_file, plan_file
from basepin.model import Edit

CHUNKS = st.one_of(
    st.binary(max_size=6),
    st.text(max_size=6).map(str.encode),
    st.sampled_from(
        [b"\r\n", b"\n", b"\r", b"\xef\xbb\xbf", b"\\\n", b"\t", b'"', b"\xff", b"\xc3", b"# "]
    ),
)
SURROUNDING = st.lists(CHUNKS, max_size=12).map(b"".join)


def spans(path: str, data: bytes) -> set[tuple[int, int]]:
    return {(use.span.start, use.span.end) for use in parse_dockerfile(data, path).uses}


def dockerfile(prefix: bytes, middle: bytes, suffix: bytes) -> bytes:
    return (
        prefix
        + b"\nARG BASE=python:3.12\r\nFROM ${BASE} AS build\n"
        + middle
        + b"\nFROM alpine:3.20\nCOPY --from=busybox:1.36 / /\n"
        + suffix
    )


def pin_edits(path: str, data: bytes) -> list[Edit]:
    """A pin for every use whose span holds its reference as written, as `basepin fix` would
    make it (the digest is the reference's own hash: any digest will do)."""
    parsed = parse_dockerfile(data, path)
    edits = {}
    for use in parsed.uses:
        span = use.span
        source = parsed.text[span.start : span.end]
        if use.resolved and source == use.reference and "@" not in source:
            digest = hashlib.sha256(source.encode()).hexdigest()
            edits[span.start, span.end] = Edit(
                path,
                span.line,
                span.column,
                span.end_column,
                span.start,
                span.end,
                source,
                f"{source}@sha256:{digest}",
            )
    return list(edits.values())


def expected_bytes(data: bytes, edits: list[Edit]) -> bytes:
    """`data` with each edit's span replaced, counted in bytes: every other byte as it was."""
    text = data.decode("utf-8", "surrogateescape")

    def at(index: int) -> int:
        return len(text[:index].encode("utf-8", "surrogateescape"))

    result = bytearray()
    position = 0
    for edit in sorted(edits, key=lambda e: e.start):
        result += data[position : at(edit.start)] + edit.replacement.encode()
        position = at(edit.end)
    return bytes(result + data[position:])


def fix_on_disk(data: bytes, edits: list[Edit], before: bytes | None = None) -> FileChange:
    """Write `before` (default: `data`) to a file and fix it with `edits` planned on `data`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "Dockerfile")
        path.write_bytes(data if before is None else before)
        placed = [edit._replace(path=str(path)) for edit in edits]
        change = fix_file(str(path), placed, roots=[Path(folder)], spans=spans)
        assert path.read_bytes() == change.after
    return change


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(SURROUNDING, SURROUNDING, SURROUNDING)
def test_a_fix_changes_only_the_edited_spans(prefix: bytes, middle: bytes, suffix: bytes) -> None:
    data = dockerfile(prefix, middle, suffix)
    edits = pin_edits("Dockerfile", data)
    change = fix_on_disk(data, edits)
    assert change.refused == ()
    assert len(change.applied) == len(edits)
    assert change.after == expected_bytes(data, edits)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(SURROUNDING, SURROUNDING, SURROUNDING, st.data())
def test_edits_another_run_made_first_are_done_and_the_rest_land_in_place(
    prefix: bytes, middle: bytes, suffix: bytes, draw: st.DataObject
) -> None:
    data = dockerfile(prefix, middle, suffix)
    edits = pin_edits("Dockerfile", data)
    first = draw.draw(st.lists(st.sampled_from(edits), unique=True)) if edits else []
    # Another run made some of the edits (its own plan) before this one got the lock.
    meanwhile = plan_file("Dockerfile", first, data).after
    assert meanwhile == expected_bytes(data, first)
    change = fix_on_disk(data, edits, before=meanwhile)
    assert change.refused == ()
    assert {edit._replace(path="Dockerfile") for edit in change.done} == set(first)
    assert {edit._replace(path="Dockerfile") for edit in change.applied} == set(edits) - set(first)
    assert change.after == expected_bytes(data, edits)
    assert change.after.count(b"@sha256:") == len(edits) + data.count(b"@sha256:")
