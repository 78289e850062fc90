"""Reading SBOM attestations into the package versions OSV is asked about (`basepin.sbom`)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basepin.sbom import PackageQuery, SbomError, osv_query, parse_purl, read_statement
from fixtures.sboms import (
    ALPINE_PURLS,
    DEBIAN_PURLS,
    PYPI_PURLS,
    SBOM_DATA,
    cyclonedx_statement,
    spdx_statement,
)


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        # Syft: binary package, source in `upstream`, release in `distro`.
        (DEBIAN_PURLS[0], ("Debian:12", "openssl", "3.0.11-1~deb12u2")),
        # The epoch is a qualifier in a purl and part of the version in OSV.
        (DEBIAN_PURLS[2], ("Debian:12", "zlib", "1:1.2.13.dfsg-1")),
        (DEBIAN_PURLS[3], ("Debian:12", "bash", "5.2.15-2+b2")),
        # Docker Scout: os_name, os_version, os_distro.
        (
            "pkg:deb/debian/openssl@3.0.17-1~deb12u3?os_distro=bookworm&os_name=debian&os_version=12",
            ("Debian:12", "openssl", "3.0.17-1~deb12u3"),
        ),
        ("pkg:deb/debian/perl@5.36.0-7?distro=bookworm", ("Debian:12", "perl", "5.36.0-7")),
        (
            "pkg:deb/ubuntu/acl@2.3.2-1build1.1?os_distro=noble&os_name=ubuntu&os_version=24.04",
            ("Ubuntu:24.04:LTS", "acl", "2.3.2-1build1.1"),
        ),
        ("pkg:deb/ubuntu/tar@1.35?distro=ubuntu-24.10", ("Ubuntu:24.10", "tar", "1.35")),
        (ALPINE_PURLS[0], ("Alpine:v3.18", "busybox", "1.36.1-r0")),
        (ALPINE_PURLS[1], ("Alpine:v3.18", "openssl", "3.1.1-r1")),
        (
            "pkg:apk/alpine/zlib@1.3.2-r0?os_name=alpine&os_version=3.24",
            ("Alpine:v3.24", "zlib", "1.3.2-r0"),
        ),
        (PYPI_PURLS[0], ("PyPI", "jinja2", "3.1.4")),
        ("pkg:npm/%40babel/core@7.24.0", ("npm", "@babel/core", "7.24.0")),
        (
            "pkg:maven/org.apache.any23/apache-any23@2.4",
            ("Maven", "org.apache.any23:apache-any23", "2.4"),
        ),
        ("pkg:golang/golang.org/x/net@v0.20.0", ("Go", "golang.org/x/net", "v0.20.0")),
    ],
)
def test_purls_become_osv_queries(purl: str, expected: tuple[str, str, str]) -> None:
    assert osv_query(purl) == PackageQuery(*expected)


@pytest.mark.parametrize(
    "purl",
    [
        # No release: OSV would answer with every Debian release's advisories.
        "pkg:deb/debian/openssl@3.0.11-1~deb12u2",
        "pkg:apk/alpine/busybox@1.36.1-r0",
        "pkg:deb/debian/openssl",  # no version
        "pkg:generic/thing@1.0",
        "not a purl",
    ],
)
def test_purls_osv_cannot_be_asked_about(purl: str) -> None:
    assert osv_query(purl) is None


def test_a_purl_is_percent_decoded() -> None:
    purl = parse_purl("pkg:deb/debian/git@1%3A2.39.2-1.1?arch=amd64&distro=debian-12#sub")
    assert purl is not None
    assert (purl.namespace, purl.name, purl.version) == ("debian", "git", "1:2.39.2-1.1")
    assert purl.qualifiers == {"arch": "amd64", "distro": "debian-12"}


def test_the_recorded_docker_official_image_sbom() -> None:
    sbom = read_statement((SBOM_DATA / "ubuntu-24.04-amd64.intoto.json").read_bytes())
    assert sbom.format == "spdx"
    # The document root (the image itself, a FILE without a purl) is no package.
    assert sbom.packages == 1
    assert sbom.queries == (PackageQuery("Ubuntu:24.04:LTS", "acl", "2.3.2-1build1.1"),)
    assert sbom.subjects == ()


def test_sources_linked_by_generated_from_are_asked_about() -> None:
    purl = "pkg:apk/alpine/libcrypto3@3.1.1-r1?os_name=alpine&os_version=3.18"
    data = spdx_statement([purl], "sha256:" + "a" * 64, sources={purl: ("openssl", "3.1.1-r1")})
    sbom = read_statement(data)
    assert set(sbom.queries) == {
        PackageQuery("Alpine:v3.18", "libcrypto3", "3.1.1-r1"),
        PackageQuery("Alpine:v3.18", "openssl", "3.1.1-r1"),
    }
    assert sbom.subjects == ("sha256:" + "a" * 64,)


def test_cyclonedx_and_counting_what_cannot_be_asked() -> None:
    sbom = read_statement(
        cyclonedx_statement([*PYPI_PURLS, "pkg:deb/debian/bash@5.2"], "sha256:" + "b" * 64)
    )
    assert sbom.format == "cyclonedx"
    assert (sbom.packages, sbom.unasked, len(sbom.queries)) == (3, 1, 2)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff not json",
        b"[]",
        json.dumps({"predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {}}).encode(),
        json.dumps({"predicateType": "https://spdx.dev/Document", "predicate": []}).encode(),
    ],
)
def test_what_is_no_sbom_says_so(data: bytes) -> None:
    with pytest.raises(SbomError):
        read_statement(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(
    predicate=st.dictionaries(
        st.sampled_from(["packages", "relationships", "components", "x"]), _json, max_size=3
    ),
    kind=st.sampled_from(["https://spdx.dev/Document", "https://cyclonedx.org/bom"]),
)
def test_any_predicate_reads_or_says_why(predicate: dict[str, object], kind: str) -> None:
    data = json.dumps({"predicateType": kind, "predicate": predicate, "subject": 3}).encode()
    with contextlib.suppress(SbomError):
        read_statement(data)


@given(st.text(max_size=80))
def test_any_text_is_a_purl_or_none(text: str) -> None:
    osv_query(text)
