"""Faults a real registry will not produce on demand, scripted through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import httpx
import pytest

from basepin.reference import parse_reference
from basepin.registry.credentials import CredentialStore
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import (
    ManifestNotFound,
    ProtocolError,
    RateLimited,
    RegistryError,
    Unavailable,
)
from basepin.registry.http import RetryPolicy
from basepin.registry.manifests import OCI_MANIFEST
from basepin.registry.oci import MANIFEST_ACCEPT, RegistryClient

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]

REF = parse_reference("registry.test/team/app:1")
SECRET = "fault-secret-9a7c"
CREDENTIALS = {
    "auths": {
        "registry.test": {"auth": base64.b64encode(f"bob:{SECRET}".encode()).decode()},
        "plain.test": {"auth": base64.b64encode(f"bob:{SECRET}".encode()).decode()},
    }
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps(
    {"created": "2024-02-03T04:05:06.123456789Z", "os": "linux", "architecture": "amd64"}
).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "size": len(CONFIG), "digest": digest_of(CONFIG)},
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = digest_of(MANIFEST)


class Sleeps(list[float]):
    """Records the waits the client asks for instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Scripted:
    """Answers from a list per request kind, in order; the last answer repeats."""

    def __init__(self, script: Mapping[str, list[httpx.Response | Exception]]) -> None:
        self.script = {key: list(answers) for key, answers in script.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {request.url.host}{request.url.path}"
        answers = self.script.get(key)
        if not answers:
            return httpx.Response(404, json={"errors": [{"code": "NOT_SCRIPTED", "key": key}]})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def seen(self) -> list[str]:
        return [f"{r.method} {r.url.host}{r.url.path}" for r in self.requests]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def ask(
    handler: Handler,
    action: Callable[[RegistryClient], Coroutine[Any, Any, T]],
    *,
    sleeps: Sleeps | None = None,
    endpoints: Endpoints | None = None,
    **retry: Any,
) -> T:
    policy = RetryPolicy(sleep=sleeps if sleeps is not None else Sleeps(), **retry)
    store = CredentialStore([("test config", CREDENTIALS)])
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = RegistryClient(http, store, endpoints, retry=policy)
        return await action(client)


def ok_manifest(**headers: str) -> httpx.Response:
    return httpx.Response(200, content=MANIFEST, headers={"Content-Type": OCI_MANIFEST, **headers})


HEAD = "HEAD registry.test/v2/team/app/manifests/1"
GET = "GET registry.test/v2/team/app/manifests/1"
GET_BY_DIGEST = f"GET registry.test/v2/team/app/manifests/{MANIFEST_DIGEST}"
GET_CONFIG = f"GET registry.test/v2/team/app/blobs/{digest_of(CONFIG)}"
TAGS = "GET registry.test/v2/team/app/tags/list"


def head_digest(client: RegistryClient) -> Coroutine[Any, Any, Any]:
    return client.head_digest(REF)


# -- digests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}), id="no-header"),
        pytest.param(httpx.Response(405), id="head-not-allowed"),
        pytest.param(httpx.Response(404), id="head-not-found"),
    ],
)
def test_without_a_digest_header_the_bytes_are_hashed(head: httpx.Response) -> None:
    registry = Scripted({HEAD: [head], GET: [ok_manifest()]})
    answer = run(ask(registry, head_digest))
    assert answer.digest == MANIFEST_DIGEST
    assert answer.size == len(MANIFEST)
    assert registry.seen() == [HEAD, GET]
    assert all(r.headers["Accept"] == MANIFEST_ACCEPT for r in registry.requests)


def test_the_digest_header_is_read_from_head() -> None:
    head = httpx.Response(
        200,
        headers={"Docker-Content-Digest": MANIFEST_DIGEST, "Content-Type": OCI_MANIFEST},
    )
    registry = Scripted({HEAD: [head]})
    assert run(ask(registry, head_digest)).digest == MANIFEST_DIGEST
    assert registry.seen() == [HEAD]


@pytest.mark.parametrize(
    ("script", "action", "words"),
    [
        pytest.param(
            {
                HEAD: [httpx.Response(405)],
                GET: [ok_manifest(**{"Docker-Content-Digest": "sha256:" + "0" * 64})],
            },
            head_digest,
            "not sha256:0000",
            id="header-mismatch",
        ),
        pytest.param(
            {HEAD: [httpx.Response(200, headers={"Docker-Content-Digest": "sha256:short"})]},
            head_digest,
            "as a digest: a sha256 digest is",
            id="header-not-a-digest",
        ),
        pytest.param(
            {f"GET registry.test/v2/team/app/manifests/sha256:{'1' * 64}": [ok_manifest()]},
            lambda client: client.digest_info(REF, "sha256:" + "1" * 64),
            "(the requested digest)",
            id="manifest-not-the-requested",
        ),
        pytest.param(
            {
                GET_BY_DIGEST: [ok_manifest()],
                GET_CONFIG: [httpx.Response(200, content=CONFIG + b" ")],
            },
            lambda client: client.digest_info(REF, MANIFEST_DIGEST),
            "blob " + digest_of(CONFIG),
            id="config-blob-mismatch",
        ),
    ],
)
def test_content_that_does_not_match_its_digest_is_refused(
    script: Mapping[str, list[httpx.Response | Exception]],
    action: Callable[[RegistryClient], Coroutine[Any, Any, Any]],
    words: str,
) -> None:
    with pytest.raises(ProtocolError, match=words.replace("(", r"\(").replace(")", r"\)")):
        run(ask(Scripted(script), action))


def test_facts_of_a_verified_manifest() -> None:
    registry = Scripted(
        {GET_BY_DIGEST: [ok_manifest()], GET_CONFIG: [httpx.Response(200, content=CONFIG)]}
    )
    info = run(ask(registry, lambda client: client.digest_info(REF, MANIFEST_DIGEST)))
    assert info.created is not None
    assert info.created.isoformat() == "2024-02-03T04:05:06.123456+00:00"
    assert info.size == len(MANIFEST) + len(CONFIG)


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        pytest.param(b"{not json", OCI_MANIFEST, "malformed JSON", id="not-json"),
        pytest.param(b"[1, 2]", OCI_MANIFEST, "malformed JSON", id="not-an-object"),
        pytest.param(
            b'{"schemaVersion": 1, "fsLayers": []}',
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "unsupported manifest type",
            id="schema-1",
        ),
        pytest.param(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": "x"}).encode(),
            OCI_MANIFEST,
            "malformed manifest",
            id="bad-descriptor",
        ),
    ],
)
def test_unreadable_manifests_are_protocol_errors(
    body: bytes, content_type: str, words: str
) -> None:
    digest = digest_of(body)
    registry = Scripted(
        {
            f"GET registry.test/v2/team/app/manifests/{digest}": [
                httpx.Response(200, content=body, headers={"Content-Type": content_type})
            ]
        }
    )
    with pytest.raises(ProtocolError, match=words) as caught:
        run(ask(registry, lambda client: client.digest_info(REF, digest)))
    assert "registry.test/team/app@sha256:" in str(caught.value)


def test_a_bare_404_is_a_missing_tag() -> None:
    registry = Scripted({HEAD: [httpx.Response(404)], GET: [httpx.Response(404)]})
    with pytest.raises(ManifestNotFound, match=r"tag '1' not found in registry\.test/team/app"):
        run(ask(registry, head_digest))


# -- retries and rate limits ------------------------------------------------------------------

DIGEST_HEAD = httpx.Response(200, headers={"Docker-Content-Digest": MANIFEST_DIGEST})


@pytest.mark.parametrize(
    ("failure", "retried_sleeps"),
    [
        pytest.param(httpx.Response(500), [0.5], id="500"),
        pytest.param(httpx.Response(503), [0.5], id="503"),
        pytest.param(httpx.ReadError("[Errno 104] Connection reset by peer"), [0.5], id="reset"),
        pytest.param(httpx.ConnectError("[Errno 111] Connection refused"), [0.5], id="refused"),
    ],
)
def test_a_passing_fault_is_retried(
    failure: httpx.Response | Exception, retried_sleeps: list[float]
) -> None:
    sleeps = Sleeps()
    registry = Scripted({HEAD: [failure, DIGEST_HEAD]})
    assert run(ask(registry, head_digest, sleeps=sleeps)).digest == MANIFEST_DIGEST
    assert sleeps == retried_sleeps
    assert registry.seen() == [HEAD, HEAD]


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        pytest.param(httpx.Response(500), "HTTP 500 Internal Server Error 3 times", id="500"),
        pytest.param(
            httpx.ReadError("[Errno 104] Connection reset by peer"), "reset by peer", id="reset"
        ),
        pytest.param(
            httpx.ConnectError("[Errno 111] Connection refused"), "cannot connect", id="down"
        ),
    ],
)
def test_a_lasting_fault_is_unavailable(failure: httpx.Response | Exception, words: str) -> None:
    sleeps = Sleeps()
    registry = Scripted({HEAD: [failure]})
    with pytest.raises(Unavailable, match=words) as caught:
        run(ask(registry, head_digest, sleeps=sleeps))
    assert "registry.test/team/app:1" in str(caught.value)
    assert sleeps == [0.5, 1.0]
    assert len(registry.requests) == 3


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ReadTimeout("timed out"), id="timeout"),
        pytest.param(httpx.ConnectTimeout("timed out"), id="connect-timeout"),
        pytest.param(
            httpx.ConnectError("[Errno -2] Name or service not known"),
            id="name",
        ),
    ],
)
def test_a_timeout_or_a_name_that_does_not_resolve_is_not_retried(failure: Exception) -> None:
    """Waiting as long again would exceed the reference's deadline; a name will not resolve
    a moment later."""
    if isinstance(failure, httpx.ConnectError):
        failure.__cause__ = socket.gaierror(-2, "Name or service not known")
    sleeps = Sleeps()
    registry = Scripted({HEAD: [failure, DIGEST_HEAD]})
    with pytest.raises(Unavailable) as caught:
        run(ask(registry, head_digest, sleeps=sleeps))
    assert sleeps == []
    assert len(registry.requests) == 1
    expected = "does not resolve" if isinstance(failure, httpx.ConnectError) else "timed out"
    assert expected in str(caught.value)


def test_a_certificate_error_is_neither_retried_nor_downgraded() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLCertVerificationError("certificate verify failed")
        raise httpx.ConnectError("certificate verify failed") from cause

    registry = Scripted({})
    reference = parse_reference("localhost:5000/team/app:1")

    def record_and_refuse(request: httpx.Request) -> httpx.Response:
        registry.requests.append(request)
        return refuse(request)

    with pytest.raises(Unavailable, match="TLS certificate is not trusted"):
        run(ask(record_and_refuse, lambda client: client.head_digest(reference)))
    assert [str(r.url) for r in registry.requests] == ["https://localhost:5000/v2/"]


def test_a_loopback_registry_without_tls_is_spoken_to_over_http() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            raise httpx.ConnectError("wrong version number") from ssl.SSLError("WRONG_VERSION")
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return DIGEST_HEAD

    reference = parse_reference("127.0.0.1:5000/team/app:1")
    head = run(ask(answer, lambda client: client.head_digest(reference)))
    assert head.digest == MANIFEST_DIGEST


@pytest.mark.parametrize(
    ("retry_after", "allowed"),
    [
        pytest.param("2", True, id="seconds"),
        pytest.param("3600", False, id="beyond-budget"),
        pytest.param(None, False, id="no-retry-after"),
        pytest.param("soon", False, id="unreadable"),
    ],
)
def test_429_is_honoured_within_the_budget(retry_after: str | None, allowed: bool) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    headers["ratelimit-remaining"] = "0;w=21600"
    registry = Scripted({HEAD: [httpx.Response(429, headers=headers), DIGEST_HEAD]})
    sleeps = Sleeps()
    if allowed:
        assert run(ask(registry, head_digest, sleeps=sleeps)).digest == MANIFEST_DIGEST
        assert sleeps == [2.0]
        return
    with pytest.raises(RateLimited, match="rate limited by the registry") as caught:
        run(ask(registry, head_digest, sleeps=sleeps))
    assert sleeps == []
    assert len(registry.requests) == 1
    assert "0 requests left" in str(caught.value)
    assert caught.value.retry_after == (float(retry_after) if retry_after == "3600" else None)


def test_the_rate_limit_budget_spans_the_run() -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3"})
    registry = Scripted({HEAD: [limited, DIGEST_HEAD, limited, DIGEST_HEAD]})
    sleeps = Sleeps()

    async def twice(client: RegistryClient) -> None:
        await client.head_digest(REF)
        with pytest.raises(RateLimited):
            await client.head_digest(REF)

    run(ask(registry, twice, sleeps=sleeps, rate_limit_budget=5.0))
    assert sleeps == [3.0]


def test_the_remaining_rate_limit_is_surfaced() -> None:
    head = httpx.Response(
        200,
        headers={"Docker-Content-Digest": MANIFEST_DIGEST, "ratelimit-remaining": "76;w=21600"},
    )

    async def check(client: RegistryClient) -> None:
        answer = await client.head_digest(REF)
        assert answer.rate_limit_remaining == 76
        assert client.rate_limit_remaining("registry.test") == 76
        assert client.rate_limit_remaining("other.test") is None

    run(ask(Scripted({HEAD: [head]}), check))


# -- tag lists --------------------------------------------------------------------------------


def tags_page(tags: list[str], link: str | None = None) -> httpx.Response:
    headers = {"Link": link} if link else {}
    return httpx.Response(200, json={"name": "team/app", "tags": tags}, headers=headers)


@pytest.mark.parametrize(
    ("link", "followed"),
    [
        pytest.param('</v2/team/app/tags/list?n=3&last=b>; rel="next"', True, id="relative"),
        pytest.param(
            '<https://registry.test/v2/team/app/tags/list?last=b>; rel="next"', True, id="absolute"
        ),
        pytest.param("</v2/team/app/tags/list?last=b>; rel=next", True, id="unquoted-rel"),
        pytest.param(
            '<https://elsewhere.test/v2/team/app/tags/list?last=b>; rel="next"',
            False,
            id="other-host",
        ),
        pytest.param(
            '<http://registry.test/v2/team/app/tags/list?last=b>; rel="next"',
            False,
            id="other-scheme",
        ),
        pytest.param('</v2/team/app/tags/list?last=b>; rel="prev"', None, id="not-next"),
    ],
)
def test_tag_pages_are_followed_on_the_same_origin_only(link: str, followed: bool | None) -> None:
    # The first page is shorter than asked for: only the missing link ends a list.
    registry = Scripted({TAGS: [tags_page(["a", "b"], link), tags_page(["c"])]})
    listed = run(ask(registry, lambda client: client.list_tags(REF, page_size=3)))
    hosts = {r.url.host for r in registry.requests}
    assert hosts == {"registry.test"}
    if followed:
        assert listed.tags == ("a", "b", "c")
        assert listed.complete
    elif followed is None:
        assert listed.tags == ("a", "b")
        assert listed.complete
    else:
        assert listed.tags == ("a", "b")
        assert not listed.complete
        assert listed.note is not None
        assert "not followed" in listed.note


def test_tag_pages_that_loop_stop() -> None:
    back = '</v2/team/app/tags/list?n=2>; rel="next"'
    onward = '</v2/team/app/tags/list?n=2&last=a>; rel="next"'
    registry = Scripted({TAGS: [tags_page(["a"], onward), tags_page(["b"], back)]})
    listed = run(ask(registry, lambda client: client.list_tags(REF, page_size=2)))
    assert listed.tags == ("a", "b")
    assert not listed.complete
    assert len(registry.requests) == 2


def test_a_malformed_tag_list_is_a_protocol_error() -> None:
    registry = Scripted({TAGS: [httpx.Response(200, content=b"<html>")]})
    with pytest.raises(ProtocolError, match="tag list: the registry sent malformed JSON"):
        run(ask(registry, lambda client: client.list_tags(REF)))


# -- where Authorization goes -----------------------------------------------------------------


def basic_registry(routes: Mapping[str, httpx.Response]) -> Scripted:
    """A registry that wants Basic credentials everywhere but on cdn.test."""

    class BasicRegistry(Scripted):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.host != "cdn.test" and "Authorization" not in request.headers:
                self.requests.append(request)
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="test"'})
            return super().__call__(request)

    return BasicRegistry({key: [answer] for key, answer in routes.items()})


def test_a_blob_redirect_to_another_origin_gets_no_authorization(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cdn = f"https://cdn.test/blobs/{digest_of(CONFIG)}?signature=abc"
    registry = basic_registry(
        {
            GET_BY_DIGEST: ok_manifest(),
            GET_CONFIG: httpx.Response(307, headers={"Location": cdn}),
            "GET cdn.test/blobs/" + digest_of(CONFIG): httpx.Response(200, content=CONFIG),
        }
    )
    info = run(ask(registry, lambda client: client.digest_info(REF, MANIFEST_DIGEST)))
    assert info.created is not None
    sent = [(r.url.host, "Authorization" in r.headers) for r in registry.requests]
    assert sent == [
        ("registry.test", False),  # 401 with the Basic challenge
        ("registry.test", True),
        ("registry.test", True),
        ("cdn.test", False),
    ]
    assert SECRET not in caplog.text


def token_registry(realm: str) -> Scripted:
    challenge = f'Bearer realm="{realm}",service="test"'

    class TokenRegistry(Scripted):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            if request.url.path.startswith("/token"):
                return httpx.Response(200, json={"access_token": "tok", "expires_in": 300})
            if request.headers.get("Authorization") != "Bearer tok":
                return httpx.Response(401, headers={"WWW-Authenticate": challenge})
            return DIGEST_HEAD

    return TokenRegistry({})


@pytest.mark.parametrize(
    ("realm", "credentials_sent"),
    [
        pytest.param("https://auth.test/token", True, id="https-realm"),
        pytest.param("http://auth.test/token", False, id="plain-http-realm"),
    ],
)
def test_credentials_go_to_the_realm_over_https_only(
    realm: str, credentials_sent: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    registry = token_registry(realm)
    assert run(ask(registry, head_digest)).digest == MANIFEST_DIGEST
    token_requests = [r for r in registry.requests if r.url.host == "auth.test"]
    assert len(token_requests) == 1
    assert ("Authorization" in token_requests[0].headers) is credentials_sent
    assert token_requests[0].url.params.get_list("scope") == ["repository:team/app:pull"]
    assert SECRET not in caplog.text


def test_credentials_are_not_sent_to_a_plain_http_registry() -> None:
    registry = basic_registry({})
    reference = parse_reference("plain.test/team/app:1")
    endpoints = Endpoints(mirrors={"plain.test": "http://plain.test"})
    with pytest.raises(RegistryError, match=r"not sent to plain\.test over plain HTTP") as caught:
        run(ask(registry, lambda client: client.head_digest(reference), endpoints=endpoints))
    assert SECRET not in str(caught.value)
    assert not any("Authorization" in r.headers for r in registry.requests)


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(500, id="unavailable"),
        pytest.param(429, id="rate-limited"),
        pytest.param(403, id="denied"),
        pytest.param(418, id="odd-status"),
    ],
)
def test_errors_never_show_credentials(status: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = basic_registry({HEAD: httpx.Response(status)})
    with pytest.raises(RegistryError) as caught:
        run(ask(registry, head_digest))
    encoded = base64.b64encode(f"bob:{SECRET}".encode()).decode()
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert SECRET not in text
        assert encoded not in text


def test_a_refusal_at_the_redirect_target_is_no_challenge_of_the_registry() -> None:
    cdn = f"https://cdn.test/blobs/{digest_of(CONFIG)}"
    challenge = 'Bearer realm="https://cdn.test/token",service="cdn"'
    registry = basic_registry(
        {
            GET_BY_DIGEST: ok_manifest(),
            GET_CONFIG: httpx.Response(307, headers={"Location": cdn}),
            "GET cdn.test/blobs/" + digest_of(CONFIG): httpx.Response(
                401, headers={"WWW-Authenticate": challenge}
            ),
        }
    )
    with pytest.raises(ProtocolError, match="HTTP 401"):
        run(ask(registry, lambda client: client.digest_info(REF, MANIFEST_DIGEST)))
    assert not any(r.url.path == "/token" for r in registry.requests)


def test_a_token_server_that_refuses_batches_is_asked_per_repository() -> None:
    registry = token_registry("https://auth.test/token")
    answer_single = registry.__call__

    def refuse_batches(request: httpx.Request) -> httpx.Response:
        if len(request.url.params.get_list("scope")) > 1:
            registry.requests.append(request)
            return httpx.Response(400, json={"details": "one scope at a time"})
        return answer_single(request)

    async def prefetch_then_head(client: RegistryClient) -> str:
        await client.prefetch_tokens("registry.test", ["team/app", "team/other"])
        return (await client.head_digest(REF)).digest

    assert run(ask(refuse_batches, prefetch_then_head)) == MANIFEST_DIGEST
    scopes = [r.url.params.get_list("scope") for r in registry.requests if r.url.path == "/token"]
    assert scopes == [
        ["repository:team/app:pull", "repository:team/other:pull"],
        ["repository:team/app:pull"],
    ]
