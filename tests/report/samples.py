"""Reports the formatter tests share, golden-file comparison and a Report strategy.

Golden files live in tests/report/golden/. After a deliberate change of an output format,
regenerate them with `BASEPIN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/report` and review the
diff before committing it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from basepin.catalog import RULES
from basepin.model import (
    USE_KINDS,
    DigestInfo,
    Edit,
    Finding,
    ImageUse,
    Lookup,
    Missing,
    Problem,
    Report,
    Resolution,
    Span,
    Unresolved,
)

if TYPE_CHECKING:
    from basepin.model import Severity, UseKind

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)

DIGEST_A = "sha256:" + "a1" * 32
DIGEST_B = "sha256:" + "b2" * 32
DIGEST_C = "sha256:" + "c3" * 32
DIGEST_D = "sha256:" + "d4" * 32
DIGEST_E = "sha256:" + "e5" * 32


def assert_golden(name: str, actual: str) -> None:
    """Compare byte for byte with golden/<name>; BASEPIN_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("BASEPIN_UPDATE_GOLDEN") == "1":
        path.write_bytes(actual.encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs; see tests/report/samples.py to regenerate"


def span(line: int, column: int, length: int) -> Span:
    # Offsets are not read by formatters; keep them plausible and distinct.
    start = line * 100 + column
    return Span(line, column, line, column + length, start, start + length)


def _use(path: str, kind: UseKind, reference: str, where: Span) -> ImageUse:
    return ImageUse(path, kind, reference, resolved=True, span=where, instruction_line=where.line)


def _finding(
    rule: str,
    severity: Severity,
    use: ImageUse,
    message: str,
    replacement: str | None = None,
) -> Finding:
    fix = None
    if replacement is not None:
        s = use.span
        fix = Edit(
            use.path, s.line, s.column, s.end_column, s.start, s.end, use.reference, replacement
        )
    return Finding(rule, severity, use.path, use.span, use.reference, message, fix)


SYNTAX = _use("Dockerfile", "syntax", "docker/dockerfile:1", span(1, 10, 19))
PYTHON = _use("Dockerfile", "from", "python:3.11-slim", span(3, 6, 16))._replace(stage="build")
NGINX = _use("Dockerfile", "from", "nginx", span(10, 6, 5))
TOOLS = _use("Dockerfile", "copy-from", f"ghcr.io/acme/tools:1.4@{DIGEST_C}", span(12, 13, 94))
NODE_FROM = _use("services/api/Dockerfile", "from", "node:20-alpine", span(1, 10, 14))._replace(
    instruction_line=3,
    via_arg="BASE",
    platform="linux/arm64",
    stage="deps",
)
NODE_MOUNT = NODE_FROM._replace(kind="mount-from", instruction_line=8, platform=None, stage=None)
UNRESOLVED = _use(
    "services/api/Dockerfile", "from", "${REGISTRY}/app:${TAG}", span(12, 6, 22)
)._replace(
    resolved=False,
    unresolved_reason="ARG TAG has no value",
)
APP = _use("büro/Dockerfile", "from", "registry.example.com:5000/team/app:2.0", span(1, 6, 38))
REDIS = _use("büro/Dockerfile", "from", "redis:7", span(4, 6, 7))

USES = (SYNTAX, PYTHON, NGINX, TOOLS, NODE_FROM, NODE_MOUNT, UNRESOLVED, APP, REDIS)
ODD_FILE = "docker/ci,100%:x.Dockerfile"
FILES = ("Dockerfile", "büro/Dockerfile", ODD_FILE, "services/api/Dockerfile")

OFFLINE_FINDINGS = (
    _finding(
        "unpinned",
        "error",
        SYNTAX,
        "docker/dockerfile:1: no digest pins this image",
        f"docker/dockerfile:1@{DIGEST_A}",
    ),
    _finding(
        "unpinned",
        "error",
        PYTHON,
        "python:3.11-slim: no digest pins this image",
        f"python:3.11-slim@{DIGEST_B}",
    ),
    _finding("unpinned", "error", NGINX, "nginx: no digest pins this image"),
    _finding("latest", "error", NGINX, "nginx has no tag (so 'latest'): name the version"),
    _finding(
        "unpinned",
        "error",
        NODE_FROM,
        "node:20-alpine: no digest pins this image — “pin it”, 100% sure",
    ),
    _finding(
        "unresolved",
        "warning",
        UNRESOLVED,
        "${REGISTRY}/app:${TAG}: cannot be checked: ARG TAG has no value,\n"
        "pass --build-arg TAG=<x> | *or* set a default\r\n[see](http://x) & `docs` ~ $HOME #1",
    ),
    _finding("disallowed", "error", APP, "registry.example.com:5000 is not on the allow-list"),
    _finding("unpinned", "note", REDIS, "redis:7: no digest pins this image"),
    Finding(
        "invalid",
        "error",
        ODD_FILE,
        Span(1, 1, 1, 1, 0, 0),
        "",
        "the file has no FROM instruction",
    ),
)
ONLINE_FINDINGS = (
    *OFFLINE_FINDINGS,
    _finding(
        "outdated",
        "warning",
        PYTHON,
        "python:3.11-slim: 3.13-slim is newer (+3.1 MB)",
        f"python:3.13-slim@{DIGEST_D}",
    ),
    _finding(
        "stale-digest",
        "error",
        TOOLS,
        "ghcr.io/acme/tools:1.4 moved on 2025-05-02: the pinned digest is stale",
        f"ghcr.io/acme/tools:1.4@{DIGEST_E}",
    ),
    _finding("old-image", "warning", TOOLS, "ghcr.io/acme/tools:1.4 was built 400 days ago"),
    _finding("unknown", "error", APP, "registry.example.com:5000/team/app: tag 2.0 not found"),
)

NOTES = (
    Problem(
        "chart/templates/app.yaml",
        4,
        13,
        "skipped: a Go template ({{ ... }}, as in a Helm chart) is not YAML until it is rendered",
    ),
)
OFFLINE = Report(files=FILES, uses=USES, findings=OFFLINE_FINDINGS, notes=NOTES)

_LOOKUPS: dict[str, Lookup] = {
    SYNTAX.reference: Resolution(
        "docker.io/docker/dockerfile:1",
        DigestInfo(
            DIGEST_A,
            "application/vnd.oci.image.index.v1+json",
            is_index=True,
            created=datetime(2025, 5, 20, 8, 30),
        ),
    ),
    PYTHON.reference: Resolution(
        "docker.io/library/python:3.11-slim",
        DigestInfo(DIGEST_B, "application/vnd.oci.image.index.v1+json", is_index=True, size=1),
        pushed=datetime(2025, 5, 29, 23, 59, 59, 999, tzinfo=timezone.utc),
        size=45_200_000,
        rate_limit_remaining=4,
    ),
    NGINX.reference: Resolution(
        "docker.io/library/nginx:latest",
        DigestInfo(DIGEST_C, "application/vnd.oci.image.index.v1+json", size=67_000_000),
        pushed=datetime(2025, 5, 31, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        rate_limit_remaining=37,
    ),
    TOOLS.reference: Resolution(
        "ghcr.io/acme/tools:1.4",
        DigestInfo(
            DIGEST_E,
            "application/vnd.oci.image.manifest.v1+json",
            created=datetime(2024, 4, 27, tzinfo=timezone.utc),
        ),
        pinned=DigestInfo(DIGEST_C, "application/vnd.oci.image.manifest.v1+json"),
        size=999_960,
    ),
    NODE_FROM.reference: Resolution(
        "docker.io/library/node:20-alpine",
        DigestInfo(DIGEST_D, "application/vnd.docker.distribution.manifest.list.v2+json"),
        size=3_500_000_000_000,
    ),
    APP.reference: Missing(
        "registry.example.com:5000/team/app:2.0", "manifest unknown: tag 2.0 not found"
    ),
    REDIS.reference: Unresolved("docker.io/library/redis:7", "rate limited"),
}

ONLINE = Report(
    files=FILES,
    uses=USES,
    findings=ONLINE_FINDINGS,
    incomplete=(
        Unresolved(
            "docker.io/library/redis:7",
            "429 Too Many Requests, retry after 3600 s: 100% of quota used\nsee docs",
        ),
    ),
    lookups=_LOOKUPS,
    offline=False,
)

SAMPLES = {"offline": OFFLINE, "online": ONLINE}


# A strategy for any Report a run could produce (lookups keyed by the uses' references).

_positions = st.integers(min_value=1, max_value=10_000)
_names = st.text(min_size=1, max_size=20)
_digests = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h)
_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(timezone.utc)
)


@st.composite
def _spans(draw: st.DrawFn) -> Span:
    line, column = draw(_positions), draw(_positions)
    end_line = draw(st.integers(min_value=line, max_value=line + 3))
    return Span(line, column, end_line, draw(_positions), 0, 0)


@st.composite
def _uses(draw: st.DrawFn, paths: list[str]) -> ImageUse:
    return ImageUse(
        path=draw(st.sampled_from(paths)),
        kind=draw(st.sampled_from(USE_KINDS)),
        reference=draw(st.one_of(st.sampled_from(("python:3.12", "nginx", "a:1")), _names)),
        resolved=draw(st.booleans()),
        span=draw(_spans()),
        instruction_line=1,
        via_arg=draw(st.none() | _names),
        stage=draw(st.none() | _names),
        platform=draw(st.none() | st.sampled_from(("linux/amd64", "linux/arm/v7"))),
    )


@st.composite
def _findings(draw: st.DrawFn, paths: list[str]) -> Finding:
    path = draw(st.sampled_from(paths))
    where = draw(_spans())
    fix = None
    if draw(st.booleans()):
        fix = Edit(path, where.line, where.column, where.end_column, 0, 0, "", draw(_names))
    return Finding(
        rule=draw(st.sampled_from(tuple(RULES))),
        severity=draw(st.sampled_from(("error", "warning", "note"))),
        path=path,
        span=where,
        reference=draw(st.text(max_size=20)),
        message=draw(st.text(max_size=60)),
        fix=fix,
    )


@st.composite
def _lookups(draw: st.DrawFn, reference: str) -> Lookup:
    current = draw(st.none() | st.builds(DigestInfo, _digests, st.just("m"), created=_times))
    return draw(
        st.one_of(
            st.builds(
                Resolution,
                st.just(reference),
                st.just(current),
                pushed=st.none() | _times,
                size=st.none() | st.integers(min_value=0, max_value=10**13),
                rate_limit_remaining=st.none() | st.integers(min_value=0, max_value=200),
            ),
            st.builds(Missing, st.just(reference), _names),
            st.builds(Unresolved, st.just(reference), _names),
        )
    )


@st.composite
def reports(draw: st.DrawFn) -> Report:
    paths = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    uses = draw(st.lists(_uses(paths), max_size=5))
    lookups = {}
    for use in uses:
        if use.reference not in lookups and draw(st.booleans()):
            lookups[use.reference] = draw(_lookups(use.reference))
    return Report(
        files=tuple(paths),
        uses=tuple(uses),
        findings=tuple(draw(st.lists(_findings(paths), max_size=6))),
        incomplete=tuple(draw(st.lists(st.builds(Unresolved, _names, _names), max_size=2))),
        lookups=lookups,
        offline=not lookups,
        notes=tuple(
            draw(
                st.lists(
                    st.builds(Problem, st.sampled_from(paths), _positions, _positions, _names),
                    max_size=2,
                )
            )
        ),
    )
