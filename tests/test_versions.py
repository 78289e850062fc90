from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from functools import cmp_to_key
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.versions import (
    Scope,
    TagVersion,
    compare_tags,
    is_same_variant,
    most_specific_version,
    newer_tags,
    parse_tag,
)

VECTORS = Path(__file__).parent / "data" / "conformance" / "docker-tag-versions.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
NOT_COMPARABLE = "not comparable"


def _version(tag: str) -> TagVersion:
    version = parse_tag(tag)
    assert version is not None, tag
    return version


def _greater(a: str, b: str) -> bool | str:
    try:
        return compare_tags(a, b) > 0
    except ValueError:
        return NOT_COMPARABLE


def _sign(a: str, b: str) -> int | str:
    try:
        return compare_tags(a, b)
    except ValueError:
        return NOT_COMPARABLE


# Thin adapters from Renovate's docker versioning functions to basepin's.
ADAPTERS: dict[str, Callable[..., object]] = {
    "isValid": lambda tag: tag is not None and parse_tag(tag) is not None,
    "isCompatible": is_same_variant,
    "isGreaterThan": _greater,
    "sortVersions": _sign,
    "getMajor": lambda tag: None if parse_tag(tag) is None else _version(tag).major,
    "getMinor": lambda tag: None if parse_tag(tag) is None else _version(tag).minor,
    "getPatch": lambda tag: None if parse_tag(tag) is None else _version(tag).patch,
    "isStable": lambda tag: _version(tag).is_stable,
}

# Noted vectors where a Docker user expects something else than Renovate does.
DIVERGENCES: dict[tuple[str, str], Any] = {
    # Different precision: a floating tag and a release of it are neither newer nor older.
    ("isGreaterThan", '["1.2.3", "1.2"]'): NOT_COMPARABLE,
    ("isGreaterThan", '["10.1", "10.1.2"]'): NOT_COMPARABLE,
    ("isGreaterThan", '["3.12", "3.12.1"]'): NOT_COMPARABLE,
    ("sortVersions", '["3.12", "3.12.1"]'): NOT_COMPARABLE,
    # Prerelease numbers compare as numbers: b5 < b10.
    ("isGreaterThan", '["3.7.0b5", "3.7.0b10"]'): False,
    # The Alpine release in the suffix may move on: alpine3.18 -> alpine3.19.
    ("isCompatible", '["1.25.4-alpine3.19", "1.25.3-alpine3.18"]'): True,
    # An image may publish v-prefixed and plain tags as separate series.
    ("isCompatible", '["v1.2.4", "1.2.3"]'): False,
    # Semver-style prerelease words after a hyphen still mark a prerelease.
    ("isStable", '["1.0.0-beta"]'): False,
    ("isStable", '["1.2.3-rc.1"]'): False,
}


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['fn']}{json.dumps(case['args'])}"


def _key(case: dict[str, Any]) -> tuple[str, str]:
    return case["fn"], json.dumps(case["args"])


@pytest.mark.parametrize("case", [case for case in CASES if case["fn"] != "sort"], ids=_case_id)
def test_conformance_vector(case: dict[str, Any]) -> None:
    expected = DIVERGENCES.get(_key(case), case["expected"])
    if _key(case) in DIVERGENCES:
        assert "note" in case, "only noted vectors may diverge"
    assert ADAPTERS[case["fn"]](*case["args"]) == expected


@pytest.mark.parametrize("case", [case for case in CASES if case["fn"] == "sort"], ids=_case_id)
def test_conformance_sort(case: dict[str, Any]) -> None:
    # Renovate sorts across variants (both vectors are noted for it); a Docker user only orders
    # tags of one variant, so Renovate's order must hold within each variant of the list.
    tags: list[str] = case["args"][0]
    variants: dict[tuple[bool, int, str], list[str]] = {}
    for tag in tags:
        version = _version(tag)
        variants.setdefault((version.v_prefix, len(version.release), version.suffix), []).append(
            tag
        )
    for members in variants.values():
        ordered = sorted(members, key=cmp_to_key(compare_tags))
        assert ordered == [tag for tag in case["expected"] if tag in members]


def test_every_divergence_is_a_vector() -> None:
    assert set(DIVERGENCES) <= {_key(case) for case in CASES}


@pytest.mark.parametrize(
    ("tag", "release", "attached", "suffix", "stable"),
    [
        pytest.param("3.12.1rc1-slim-bookworm", (3, 12, 1), "rc1", "slim-bookworm", False, id="rc"),
        pytest.param("v2.1", (2, 1), "", "", True, id="v-prefix"),
        pytest.param("21.0.3_9-jre-jammy", (21, 0, 3), "_9", "jre-jammy", False, id="unknown"),
        pytest.param("1.2.3post1", (1, 2, 3), "post1", "", True, id="post-release"),
        pytest.param("1.0dev2", (1, 0), "dev2", "", False, id="dev-release"),
        pytest.param("8.0-preview-alpine", (8, 0), "", "preview-alpine", False, id="preview"),
        pytest.param("1.2-b", (1, 2), "", "b", True, id="one-letter-suffix-is-a-variant"),
        pytest.param(
            "17-windowsservercore-ltsc2022",
            (17,),
            "",
            "windowsservercore-ltsc2022",
            True,
            id="windows",
        ),
    ],
)
def test_parse_tag_fields(
    tag: str, release: tuple[int, ...], attached: str, suffix: str, stable: bool
) -> None:
    version = _version(tag)
    assert (version.release, version.attached, version.suffix) == (release, attached, suffix)
    assert version.is_stable is stable


@pytest.mark.parametrize(
    "tag",
    ["", "latest", "bookworm", "v", "1.", "1..2", ".1", "1-", "V1.2", "abcdef0", "1" * 129],
)
def test_not_versions(tag: str) -> None:
    assert parse_tag(tag) is None


@pytest.mark.parametrize(
    ("candidate", "current", "same"),
    [
        pytest.param("3.13-slim", "3.11-slim", True, id="same-suffix"),
        pytest.param("3.13-slim-bookworm", "3.11-slim", False, id="longer-suffix"),
        pytest.param("3.13.1-slim", "3.11-slim", False, id="more-precise"),
        pytest.param("1.26-alpine4.0", "1.25-alpine3.18", True, id="suffix-major-moves"),
        pytest.param("1.26-alpine3.17", "1.25-alpine3.18", False, id="suffix-moves-back"),
        pytest.param("1.26-alpine3", "1.25-alpine3.18", False, id="suffix-precision"),
        pytest.param("1.26-alpine", "1.25-alpine3.18", False, id="suffix-loses-number"),
        pytest.param("8.3-php8.2-alpine3.19", "8.2-php8.3-alpine3.18", False, id="one-goes-back"),
        pytest.param("17-nanoserver-ltsc2025", "17-nanoserver-ltsc2022", True, id="ltsc"),
        pytest.param("1.2.3-rc.2", "1.2.3-rc.1", True, id="rc-number"),
        pytest.param("v1.3", "v1.2", True, id="v-both"),
        pytest.param("1.3", "v1.2", False, id="v-dropped"),
        pytest.param("latest", "3.12", False, id="not-a-version"),
    ],
)
def test_is_same_variant(candidate: str, current: str, same: bool) -> None:
    assert is_same_variant(candidate, current) is same


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        pytest.param("1.25.3-alpine3.19", "1.25.3-alpine3.18", 1, id="suffix-number"),
        pytest.param("1.25.4-alpine3.18", "1.25.3-alpine3.19", 1, id="release-before-suffix"),
        pytest.param("3.13.0rc1-alpine3.19", "3.13.0-alpine3.18", -1, id="pre-before-suffix"),
        pytest.param("1.0.0a1", "1.0.0dev1", 1, id="dev-below-alpha"),
        pytest.param("1.0.0beta2", "1.0.0b1", 1, id="beta-spelling"),
        pytest.param("1.0.0", "1.0.0post1", -1, id="post-above-release"),
        pytest.param("21.0.3_10", "21.0.3_9", 1, id="unknown-natural"),
        pytest.param("1.0.0rc1", "1.0.0x1", 1, id="unknown-below-known"),
        pytest.param("18.04", "18.4", 0, id="leading-zero"),
        pytest.param("v1.2.3", "1.2.3", 0, id="v-ignored"),
        pytest.param("20240102", "20240101", 1, id="date"),
    ],
)
def test_compare_tags(a: str, b: str, sign: int) -> None:
    assert compare_tags(a, b) == sign
    assert compare_tags(b, a) == -sign


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        pytest.param("latest", "3", "not a version tag: 'latest'", id="first"),
        pytest.param("3", "bookworm", "not a version tag: 'bookworm'", id="second"),
        pytest.param("3.12", "3.12.1", "different precision", id="precision"),
    ],
)
def test_compare_tags_refuses(a: str, b: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_tags(a, b)


PYTHON_SLIM = ["3.12-slim", "3.13-slim", "3.13-slim-bookworm", "3.14.0b1-slim", "3.13.1-slim"]


@pytest.mark.parametrize(
    ("current", "candidates", "scope", "expected"),
    [
        pytest.param("3.11-slim", PYTHON_SLIM, "minor", ["3.13-slim", "3.12-slim"], id="slim"),
        pytest.param("3.11-slim", PYTHON_SLIM, "patch", [], id="two-parts-no-patch"),
        pytest.param(
            "3.11-slim",
            [*PYTHON_SLIM, "4.0-slim"],
            "major",
            ["4.0-slim", "3.13-slim", "3.12-slim"],
            id="major",
        ),
        pytest.param(
            "3.12.1",
            ["3.12.2", "3.12.10", "3.13.0", "4.0.0", "3.12.0", "3.12.1", "3.12", "3.13.0rc1"],
            "patch",
            ["3.12.10", "3.12.2"],
            id="patch",
        ),
        pytest.param(
            "3.12.1",
            ["3.12.2", "3.12.10", "3.13.0", "4.0.0", "3.14.0b1"],
            "minor",
            ["3.13.0", "3.12.10", "3.12.2"],
            id="minor-no-prerelease",
        ),
        pytest.param("3", ["3", "4", "5", "2"], "minor", [], id="one-part-minor"),
        pytest.param("3", ["3", "4", "5", "2"], "major", ["5", "4"], id="one-part-major"),
        pytest.param(
            "3.13.0rc1",
            ["3.13.0rc2", "3.13.0", "3.13.1", "3.14.0a1", "3.13.0b4"],
            "minor",
            ["3.14.0a1", "3.13.1", "3.13.0", "3.13.0rc2"],
            id="prerelease-pin",
        ),
        pytest.param("3.13rc1", ["3.13", "3.14"], "patch", ["3.13"], id="prerelease-to-release"),
        pytest.param(
            "1.25.3-alpine3.18",
            ["1.25.4-alpine3.19", "1.25.4-alpine3.18", "1.25.3-alpine3.19", "1.25.5-alpine3.17"],
            "patch",
            ["1.25.4-alpine3.19", "1.25.4-alpine3.18", "1.25.3-alpine3.19"],
            id="alpine-moves-on",
        ),
        pytest.param(
            "3.11-alpine3.18", ["3.11-alpine3.19"], "patch", ["3.11-alpine3.19"], id="suffix-only"
        ),
        pytest.param("1.0.0", ["1.0.1-beta", "1.0.1"], "patch", ["1.0.1"], id="other-suffix"),
        pytest.param("0.9.0-beta", ["1.0.0-beta"], "major", ["1.0.0-beta"], id="beta-series"),
        pytest.param("3.12", ["3.13", "3.13", "latest", "abcdef1"], "minor", ["3.13"], id="dedup"),
        pytest.param("latest", ["3.13"], "major", [], id="not-a-version"),
    ],
)
def test_newer_tags(current: str, candidates: list[str], scope: Scope, expected: list[str]) -> None:
    assert newer_tags(current, candidates, scope) == expected


def test_newer_tags_defaults_to_minor() -> None:
    assert newer_tags("3.11", ["3.12", "4.0"]) == ["3.12"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(
            ["latest", "3", "3.13", "3.13.1", "bookworm", "3-bookworm", "3.13.1-bookworm"],
            "3.13.1",
            id="python-latest",
        ),
        pytest.param(["latest", "3", "3.13", "3.13.1-bookworm"], "3.13.1-bookworm", id="precise"),
        pytest.param(["rc", "3.14.0rc1", "3.14-rc"], "3.14.0rc1", id="only-prereleases"),
        pytest.param(["1.0", "1.0.0rc3"], "1.0", id="stable-first"),
        pytest.param(["1.2.3-b", "1.2.3-a"], "1.2.3-a", id="tie-text-order"),
        pytest.param(["v1.2.3", "1.2.3"], "1.2.3", id="tie-v"),
        pytest.param(["latest", "bookworm", "0a1b2c3"], None, id="no-version"),
        pytest.param([], None, id="empty"),
    ],
)
def test_most_specific_version(tags: list[str], expected: str | None) -> None:
    assert most_specific_version(tags) == expected
    assert most_specific_version(reversed(tags)) == expected


_part = st.integers(min_value=0, max_value=30).map(str)
_attached = st.sampled_from(["", "a1", "b2", "b10", "rc1", "post1", "dev3", "_9", "x"])
_suffix = st.sampled_from(["", "-slim", "-alpine3.18", "-alpine3.19", "-alpine4.0", "-slim-rc.1"])


@st.composite
def _tags(draw: st.DrawFn, parts: int) -> str:
    release = ".".join(draw(st.lists(_part, min_size=parts, max_size=parts)))
    return release + draw(_attached) + draw(_suffix)


@given(st.integers(min_value=1, max_value=4).flatmap(lambda n: st.lists(_tags(n), min_size=3)))
def test_compare_is_a_total_order_within_a_precision(tags: list[str]) -> None:
    a, b, c = tags[:3]
    assert compare_tags(a, b) == -compare_tags(b, a)
    if compare_tags(a, b) <= 0 and compare_tags(b, c) <= 0:
        assert compare_tags(a, c) <= 0
    ordered = sorted(tags, key=cmp_to_key(compare_tags))
    assert all(compare_tags(x, y) <= 0 for x, y in itertools.pairwise(ordered))


@given(
    st.integers(min_value=1, max_value=3).flatmap(
        lambda n: st.tuples(_tags(n), st.lists(_tags(n)))
    ),
    st.sampled_from(["patch", "minor", "major"]),
)
def test_newer_tags_are_newer_same_variant_and_in_scope(
    current_and_candidates: tuple[str, list[str]], scope: Scope
) -> None:
    current, candidates = current_and_candidates
    found = newer_tags(current, candidates, scope)
    wider = newer_tags(current, candidates, "major")
    assert set(found) <= set(wider) <= set(candidates)
    for tag in found:
        assert is_same_variant(tag, current)
        assert compare_tags(tag, current) > 0
        assert _version(tag).is_stable or _version(current).is_prerelease
    assert all(compare_tags(x, y) >= 0 for x, y in itertools.pairwise(found))
