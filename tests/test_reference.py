from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.errors import InvalidReference
from basepin.reference import ImageReference, parse_reference

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8
OTHER_SHA256 = "sha256:" + "f" * 64
CORPUS = Path(__file__).parent / "data" / "conformance" / "dockerfile-references.json"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        pytest.param("python", "docker.io", "library/python", None, None, id="bare-hub-name"),
        pytest.param("python:3.12", "docker.io", "library/python", "3.12", None, id="hub-tag"),
        pytest.param("library/python", "docker.io", "library/python", None, None, id="library"),
        pytest.param("amd64/ubuntu:18.04", "docker.io", "amd64/ubuntu", "18.04", None, id="hub-ns"),
        pytest.param("docker.io/python", "docker.io", "library/python", None, None, id="docker.io"),
        pytest.param(
            "index.docker.io/python", "docker.io", "library/python", None, None, id="index-host"
        ),
        pytest.param(
            "registry-1.docker.io/python", "docker.io", "library/python", None, None, id="reg-1"
        ),
        pytest.param("docker.io/nginx/unit", "docker.io", "nginx/unit", None, None, id="hub-2"),
        pytest.param("ghcr.io/python", "ghcr.io", "python", None, None, id="no-library-off-hub"),
        pytest.param("localhost/img:1.0", "localhost", "img", "1.0", None, id="localhost"),
        pytest.param("localhost", "docker.io", "library/localhost", None, None, id="localhost-1"),
        pytest.param("localhost:5000", "docker.io", "library/localhost", "5000", None, id="lh-tag"),
        pytest.param("localhost:5000/a/b", "localhost:5000", "a/b", None, None, id="host-port"),
        pytest.param("quay.io:1234/node", "quay.io:1234", "node", None, None, id="port-no-tag"),
        pytest.param(
            "registry.example:5000/team/app:1.4.2@" + SHA256,
            "registry.example:5000",
            "team/app",
            "1.4.2",
            SHA256,
            id="port-tag-digest",
        ),
        pytest.param("[::1]:5000/x:1", "[::1]:5000", "x", "1", None, id="ipv6-port"),
        pytest.param("[fd00::2]/tools/bb", "[fd00::2]", "tools/bb", None, None, id="ipv6"),
        pytest.param("10.0.0.1:5000/x", "10.0.0.1:5000", "x", None, None, id="ipv4"),
        pytest.param(
            "Registry.Example.COM:5000/app",
            "Registry.Example.COM:5000",
            "app",
            None,
            None,
            id="uppercase-host",
        ),
        pytest.param("MyHost/app", "MyHost", "app", None, None, id="uppercase-means-host"),
        pytest.param("my.image", "docker.io", "library/my.image", None, None, id="dot-one-part"),
        pytest.param("a__b/c--d/e.f/g_h", "docker.io", "a__b/c--d/e.f/g_h", None, None, id="seps"),
        pytest.param("a---b", "docker.io", "library/a---b", None, None, id="dashes"),
        pytest.param("x:v1.2.3-rc.1_b", "docker.io", "library/x", "v1.2.3-rc.1_b", None, id="tag"),
        pytest.param("x:_", "docker.io", "library/x", "_", None, id="underscore-tag"),
        pytest.param("x:" + "A" * 128, "docker.io", "library/x", "A" * 128, None, id="tag-128"),
        pytest.param("node@" + SHA256, "docker.io", "library/node", None, SHA256, id="digest"),
        pytest.param("node@" + SHA512, "docker.io", "library/node", None, SHA512, id="sha512"),
        pytest.param("a" * 64 + ":1", "docker.io", "library/" + "a" * 64, "1", None, id="hex-tag"),
        pytest.param("x/" + "a" * 253, "docker.io", "x/" + "a" * 253, None, None, id="path-255"),
    ],
)
def test_parse_valid(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.text, ref.registry, ref.repository, ref.tag, ref.digest) == (
        text,
        registry,
        repository,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "image reference is empty", id="empty"),
        pytest.param(" python", "contains whitespace", id="leading-space"),
        pytest.param("python:3 ", "contains whitespace", id="trailing-space"),
        pytest.param("TEST", "repository name must be lowercase: 'TEST'", id="uppercase"),
        pytest.param(
            "docker.io/myName/app", "repository name must be lowercase: 'myName'", id="upper-ns"
        ),
        pytest.param(
            "myName/myPackage:0.6.2",
            "repository name must be lowercase: 'myPackage'",
            id="uppercase-host-then-path",
        ),
        pytest.param("a//b", "empty path component", id="empty-component"),
        pytest.param("a/", "empty path component", id="trailing-slash"),
        pytest.param("/a", "repository name '/a' has an empty path component", id="leading-slash"),
        pytest.param("docker.io/", "empty path component", id="host-only"),
        pytest.param("-a", "'-a' must start and end with a letter or digit", id="lead-sep"),
        pytest.param("x/a.", "'a.' must start and end with a letter or digit", id="trail-sep"),
        pytest.param("a___b", "'a___b' may only hold", id="triple-underscore"),
        pytest.param("a..b", "'a..b' may only hold", id="double-dot"),
        pytest.param("a._b", "'a._b' may only hold", id="mixed-sep"),
        pytest.param("a$b", "'a$b' may only hold", id="bad-char"),
        pytest.param(":3", "repository name is empty", id="tag-only"),
        pytest.param("x:", "tag is empty", id="empty-tag"),
        pytest.param("x:.1", "tag '.1' may only hold", id="tag-leading-dot"),
        pytest.param("x:-1", "tag '-1' may only hold", id="tag-leading-dash"),
        pytest.param("x:1+b", "tag '1+b' may only hold", id="tag-plus"),
        pytest.param("x:" + "a" * 129, "tag is 129 characters; at most 128 allowed", id="tag-129"),
        pytest.param("x@", "digest after '@' is empty", id="empty-digest"),
        pytest.param(
            "x@sha256:abc",
            "digest 'sha256:abc': a sha256 digest is sha256: followed by 64 lowercase hex digits",
            id="short-digest",
        ),
        pytest.param("x@sha256:" + "A" * 64, "64 lowercase hex digits", id="uppercase-digest"),
        pytest.param("x@sha256:" + "a" * 65, "64 lowercase hex digits", id="long-digest"),
        pytest.param(
            "x@sha512:" + "a" * 64, "sha512: followed by 128 lowercase hex digits", id="sha512-64"
        ),
        pytest.param("x@" + "a" * 64, "is an algorithm and hex digits", id="no-algorithm"),
        pytest.param("x@1sha:" + "a" * 32, "only sha256 and sha512", id="bad-alg"),
        pytest.param("x@md5:" + "a" * 32, "only sha256 and sha512 digests can be", id="md5"),
        pytest.param("x@md5+b64:" + "A" * 32, "only sha256 and sha512", id="other-algorithm"),
        pytest.param("x@sha384:" + "a" * 96, "only sha256 and sha512", id="sha384"),
        pytest.param("x@" + SHA256 + "@" + SHA256, "has more than one '@'", id="two-digests"),
        pytest.param("a" * 64, "is a 64-digit hex image ID, not a repository name", id="image-id"),
        pytest.param("-bad.host/x", "registry host '-bad.host' is not a host name", id="host"),
        pytest.param("bad_host.io/x", "registry host 'bad_host.io'", id="host-underscore"),
        pytest.param("ex.com:abc/x", "registry port in 'ex.com:abc' must be", id="port-letters"),
        pytest.param("ex.com:/x", "registry port in 'ex.com:' must be", id="port-empty"),
        pytest.param("[::1::2]:5000/x", "'[::1::2]' is not an IPv6 address", id="bad-ipv6"),
        pytest.param("[::1]x/y", "registry port in '[::1]x' must be", id="ipv6-junk"),
        pytest.param("[::1]", "tag '1]' may only hold", id="ipv6-without-path"),
        pytest.param("ex.com/" + "a" * 256, "path is 256 characters; at most 255", id="path-256"),
        pytest.param(
            "a" * 250, "repository path is 258 characters; at most 255", id="library-counts"
        ),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "effective_tag", "name", "canonical", "is_hub"),
    [
        pytest.param(
            "python",
            "latest",
            "docker.io/library/python",
            "docker.io/library/python:latest",
            True,
            id="implicit-latest",
        ),
        pytest.param(
            "python:3.12@" + SHA256,
            "3.12",
            "docker.io/library/python",
            "docker.io/library/python:3.12@" + SHA256,
            True,
            id="tag-digest",
        ),
        pytest.param(
            "index.docker.io/python@" + SHA256,
            None,
            "docker.io/library/python",
            "docker.io/library/python@" + SHA256,
            True,
            id="digest-only-has-no-tag",
        ),
        pytest.param(
            "ghcr.io/astral-sh/uv:0.2",
            "0.2",
            "ghcr.io/astral-sh/uv",
            "ghcr.io/astral-sh/uv:0.2",
            False,
            id="ghcr",
        ),
    ],
)
def test_derived_forms(
    text: str, effective_tag: str | None, name: str, canonical: str, is_hub: bool
) -> None:
    ref = parse_reference(text)
    assert ref.effective_tag == effective_tag
    assert ref.name == name
    assert ref.canonical() == canonical
    assert ref.is_docker_hub is is_hub


@pytest.mark.parametrize(
    ("text", "pinned"),
    [
        pytest.param("python:3.12", "python:3.12@" + SHA256, id="keeps-short-name"),
        pytest.param("python", "python@" + SHA256, id="no-tag-stays-so"),
        pytest.param("python:3.12@" + OTHER_SHA256, "python:3.12@" + SHA256, id="replaces"),
        pytest.param("node@" + OTHER_SHA256, "node@" + SHA256, id="digest-only"),
        pytest.param(
            "index.docker.io/library/python:3.12",
            "index.docker.io/library/python:3.12@" + SHA256,
            id="keeps-host-spelling",
        ),
        pytest.param("[::1]:5000/x:1", "[::1]:5000/x:1@" + SHA256, id="ipv6"),
    ],
)
def test_with_digest_keeps_spelling(text: str, pinned: str) -> None:
    assert parse_reference(text).with_digest(SHA256) == pinned


@pytest.mark.parametrize(
    ("text", "tag", "digest", "rewritten"),
    [
        pytest.param("python:3.11-slim", "3.13-slim", None, "python:3.13-slim", id="tag"),
        pytest.param(
            "python:3.11-slim@" + OTHER_SHA256,
            "3.13-slim",
            SHA256,
            "python:3.13-slim@" + SHA256,
            id="tag-and-digest",
        ),
        pytest.param(
            "python:3.11@" + OTHER_SHA256, "3.13", None, "python:3.13", id="drops-old-digest"
        ),
        pytest.param("python", "3.13", None, "python:3.13", id="adds-tag"),
        pytest.param(
            "localhost:5000/a:1", "2", SHA256, "localhost:5000/a:2@" + SHA256, id="host-port"
        ),
    ],
)
def test_with_tag_keeps_spelling(text: str, tag: str, digest: str | None, rewritten: str) -> None:
    assert parse_reference(text).with_tag(tag, digest) == rewritten


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        pytest.param(lambda ref: ref.with_digest("sha256:abc"), "64 lowercase", id="digest"),
        pytest.param(lambda ref: ref.with_tag("a b"), "tag 'a b' may only hold", id="tag"),
        pytest.param(lambda ref: ref.with_tag("1", "x"), "an algorithm and hex", id="tag-digest"),
    ],
)
def test_rewrites_refuse_invalid_parts(
    rewrite: Callable[[ImageReference], str], message: str
) -> None:
    ref = parse_reference("python:3.12")
    with pytest.raises(InvalidReference, match=message):
        rewrite(ref)


def test_corpus_references_parse_or_fail_cleanly() -> None:
    """Every resolved reference in the Dockerfile corpus either parses or names its fault."""
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    texts = {use["reference"] for case in cases for use in case["expected"] if use["resolved"]}
    failures: dict[str, str] = {}
    for text in sorted(texts):
        try:
            parse_reference(text)
        except InvalidReference as error:
            failures[text] = str(error)
    assert set(failures) == {
        "TEST",
        "myName/myPackage:0.6.2",
        "index.docker.io/myName/myPackage:0.6.2",
        "quay.io/myName/myPackage:0.6.2",
        "docker/dockerfile:1.7@sha256:abc",
        "gcr.io/distroless/static-debian11:nonroot@sha256:abc",
        "ubuntu:14.04@sha256:abc",
        "image2:1.0.0@sha256:abcdef",
        "image7:1.0.0@sha256:abcdef",
    }


# The first component of a name without a host must not look like a host (no '.').
_first_component = st.from_regex(
    r"[a-z0-9]{1,4}(?:(?:_|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True
)
_component = st.from_regex(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True)
_host = st.sampled_from(
    ["", "docker.io/", "index.docker.io/", "ghcr.io/", "localhost:5000/", "[::1]:5000/"]
)
_tag = st.none() | st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.none() | st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__)


@given(_host, _first_component, st.lists(_component, max_size=2), _tag, _digest)
def test_round_trip(
    host: str, first: str, rest: list[str], tag: str | None, digest: str | None
) -> None:
    path = [first, *rest]
    written_name = host + "/".join(path)
    text = written_name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    ref = parse_reference(text)
    assert (ref.tag, ref.digest, ref.written_name) == (tag, digest, written_name)
    assert ref.repository.endswith("/".join(path))
    again = parse_reference(ref.canonical())
    assert again.canonical() == ref.canonical()
    assert again.name == ref.name
    pinned = parse_reference(ref.with_digest(OTHER_SHA256))
    assert (pinned.written_name, pinned.tag, pinned.digest) == (written_name, tag, OTHER_SHA256)
