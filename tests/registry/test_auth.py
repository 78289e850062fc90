"""Credentials and tokens: Docker's config, credential helpers, Basic and Bearer registries."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import os
import ssl
import stat
import sys
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from basepin.errors import ConfigError
from basepin.reference import ImageReference, parse_reference
from basepin.registry.auth import Challenge, parse_challenges
from basepin.registry.credentials import Credential, CredentialStore, credential_key
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import RegistryError, Unauthorized
from basepin.registry.oci import RegistryClient
from fixtures.registry import Registry, docker_config, push_image
from fixtures.tokenserver import TokenServer

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def basic(username: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}


@functools.cache
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@asynccontextmanager
async def client_with(
    config: Mapping[str, Any] | None, **options: Any
) -> AsyncIterator[RegistryClient]:
    store = CredentialStore([("test config", config)] if config is not None else [])
    async with httpx.AsyncClient(verify=tls_context()) as http:
        yield RegistryClient(http, store, **options)


def ref(registry: Registry, repository: str, tag: str | None = None) -> ImageReference:
    return parse_reference(registry.reference(repository, tag))


def server_of(registry: Registry) -> TokenServer:
    assert registry.token_server is not None
    return registry.token_server


# -- challenges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/python:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/python:pull",
                    },
                )
            ],
            id="docker-hub",
        ),
        pytest.param(
            "Bearer realm=https://ghcr.io/token,service=ghcr.io,scope=repository:a/b:pull",
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://ghcr.io/token",
                        "service": "ghcr.io",
                        "scope": "repository:a/b:pull",
                    },
                )
            ],
            id="unquoted",
        ),
        pytest.param(
            'Bearer realm="https://quay.io/v2/auth"',
            [Challenge("bearer", {"realm": "https://quay.io/v2/auth"})],
            id="no-service",
        ),
        pytest.param(
            'Bearer realm="r",scope="repository:a:pull,push"',
            [Challenge("bearer", {"realm": "r", "scope": "repository:a:pull,push"})],
            id="comma-in-quotes",
        ),
        pytest.param(
            'bearer Realm = "r" , Service = "s"',
            [Challenge("bearer", {"realm": "r", "service": "s"})],
            id="spaces-and-case",
        ),
        pytest.param(
            r'Bearer realm="a\"b"', [Challenge("bearer", {"realm": 'a"b'})], id="escaped-quote"
        ),
        pytest.param(
            'Basic realm="Registry Realm"',
            [Challenge("basic", {"realm": "Registry Realm"})],
            id="basic",
        ),
        pytest.param(
            'Basic realm="x", Bearer realm="y",service="s"',
            [
                Challenge("basic", {"realm": "x"}),
                Challenge("bearer", {"realm": "y", "service": "s"}),
            ],
            id="two-challenges",
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_challenges_are_parsed_leniently(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


# -- Docker config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "host"),
    [
        pytest.param("https://index.docker.io/v1/", "docker.io", id="hub-key"),
        pytest.param("registry-1.docker.io", "docker.io", id="hub-host"),
        pytest.param("http://ghcr.io/v2/", "ghcr.io", id="scheme-and-path"),
        pytest.param("Localhost:5000", "localhost:5000", id="case-and-port"),
        pytest.param("quay.io", "quay.io", id="plain"),
    ],
)
def test_config_keys_file_credentials_under_their_host(key: str, host: str) -> None:
    assert credential_key(key) == host


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param(
            basic("bob", "pw:with:colons"), Credential("bob", "pw:with:colons"), id="auth"
        ),
        pytest.param(
            {"username": "bob", "password": "pw"}, Credential("bob", "pw"), id="user-and-password"
        ),
        pytest.param(
            {"auth": "", "identitytoken": "refresh-me"},
            Credential("", "", "refresh-me"),
            id="identity-token",
        ),
        pytest.param({}, None, id="empty-entry"),
    ],
)
def test_auths_entries(entry: dict[str, str], expected: Credential | None) -> None:
    store = CredentialStore([("config", {"auths": {"https://ghcr.io/": entry}})])
    assert run(store.lookup("ghcr.io")) == expected


@pytest.mark.parametrize("host", ["docker.io", "registry-1.docker.io", "index.docker.io"])
def test_docker_hub_credentials_come_from_its_v1_key(host: str) -> None:
    config = {"auths": {"https://index.docker.io/v1/": basic("hubuser", "hubpass")}}
    assert run(CredentialStore([("config", config)]).lookup(host)) == Credential(
        "hubuser", "hubpass"
    )


def test_credentials_of_another_host_are_not_used() -> None:
    store = CredentialStore([("config", {"auths": {"ghcr.io": basic("u", "p")}})])
    assert run(store.lookup("ghcr.io.evil.example")) is None
    assert run(store.lookup("quay.io")) is None


@pytest.mark.parametrize(
    ("document", "words"),
    [
        pytest.param(
            {"auths": {"ghcr.io": {"auth": "!!notbase64!!"}}}, "auths.ghcr.io.auth", id="b64"
        ),
        pytest.param({"auths": {"ghcr.io": {"auth": "bm9jb2xvbg=="}}}, "user:password", id="colon"),
        pytest.param({"auths": []}, "JSON objects", id="auths-list"),
        pytest.param({"auths": {"ghcr.io": "x"}}, "auths.ghcr.io must be", id="entry"),
        pytest.param({"credsStore": 3}, "credsStore", id="store"),
    ],
)
def test_broken_configs_say_what_and_where(document: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        CredentialStore([("/home/u/.docker/config.json", document)])
    assert str(caught.value).startswith("/home/u/.docker/config.json: ")


SECRET = "s3cret-never-shown-4f1d"


def test_invalid_json_is_reported_by_position_without_its_text() -> None:
    environ = {"DOCKER_AUTH_CONFIG": '{"auths": {"x": {"auth": "' + SECRET + '"}}'}
    with pytest.raises(ConfigError, match="DOCKER_AUTH_CONFIG: not valid JSON") as caught:
        CredentialStore.from_environment(environ, home=Path("/nonexistent"))
    assert SECRET not in str(caught.value)


def test_credentials_hide_their_secrets() -> None:
    credential = Credential("bob", SECRET, SECRET + "-token")
    store = CredentialStore([("config", {"auths": {"ghcr.io": basic("bob", SECRET)}})])
    assert SECRET not in repr(credential)
    assert SECRET not in str(credential)
    assert SECRET not in repr(store)
    assert SECRET not in repr(run(store.lookup("ghcr.io")))


def test_the_environment_config_comes_before_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"ghcr.io": basic("file", "f"), "quay.io": basic("file", "q")}})
    )
    environ = {
        "DOCKER_CONFIG": str(tmp_path),
        "DOCKER_AUTH_CONFIG": json.dumps({"auths": {"ghcr.io": basic("inline", "i")}}),
    }
    store = CredentialStore.from_environment(environ)
    assert run(store.lookup("ghcr.io")) == Credential("inline", "i")
    assert run(store.lookup("quay.io")) == Credential("file", "q")


def test_the_default_config_is_in_the_home_folder(tmp_path: Path) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(
        json.dumps({"auths": {"ghcr.io": basic("home", "h")}})
    )
    store = CredentialStore.from_environment({}, home=tmp_path)
    assert run(store.lookup("ghcr.io")) == Credential("home", "h")
    assert run(CredentialStore.from_environment({}, home=tmp_path / "none").lookup("x")) is None


# -- credential helpers -----------------------------------------------------------------------


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on PATH with fake `docker-credential-*` programs; they log what they are asked."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder


def make_helper(folder: Path, name: str, body: str) -> None:
    program = folder / f"docker-credential-{name}"
    program.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        "server = sys.stdin.read()\n"
        f"open({str(folder / (name + '.log'))!r}, 'a').write(sys.argv[1] + ' ' + server + '\\n')\n"
        + body
    )
    program.chmod(program.stat().st_mode | stat.S_IXUSR)


def answer(username: str, secret: str) -> str:
    reply = f"{{'ServerURL': server, 'Username': {username!r}, 'Secret': {secret!r}}}"
    return f"print(json.dumps({reply}))\n"


def test_a_host_helper_beats_the_store(helpers: Path) -> None:
    make_helper(helpers, "host", answer("from-host-helper", "h"))
    make_helper(helpers, "store", answer("from-store", "s"))
    config = {"credHelpers": {"ghcr.io": "host"}, "credsStore": "store"}
    store = CredentialStore([("config", config)])
    assert run(store.lookup("ghcr.io")) == Credential("from-host-helper", "h")
    assert run(store.lookup("quay.io")) == Credential("from-store", "s")
    assert (helpers / "host.log").read_text() == "get ghcr.io\n"


def test_docker_hub_is_asked_for_by_its_v1_url(helpers: Path) -> None:
    make_helper(helpers, "store", answer("hub", "h"))
    store = CredentialStore([("config", {"credsStore": "store"})])
    assert run(store.lookup("registry-1.docker.io")) == Credential("hub", "h")
    assert (helpers / "store.log").read_text() == "get https://index.docker.io/v1/\n"


def test_a_helper_identity_token(helpers: Path) -> None:
    make_helper(helpers, "store", answer("<token>", "refresh"))
    store = CredentialStore([("config", {"credsStore": "store"})])
    assert run(store.lookup("ghcr.io")) == Credential("<token>", identity_token="refresh")


def test_a_helper_without_credentials_falls_back_to_auths(helpers: Path) -> None:
    make_helper(
        helpers, "store", "print('credentials not found in native keychain'); sys.exit(1)\n"
    )
    config = {"credsStore": "store", "auths": {"ghcr.io": basic("file", "f")}}
    store = CredentialStore([("config", config)])
    assert run(store.lookup("ghcr.io")) == Credential("file", "f")
    assert run(store.lookup("quay.io")) is None
    assert store.problem("quay.io") is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(None, "docker-credential-store is not installed", id="missing"),
        pytest.param("sys.exit(3)\n", "failed (3)", id="fails"),
        pytest.param(f"print('{SECRET} not json')\n", "something unreadable", id="garbage"),
        pytest.param("time.sleep(60)\n", "no answer within 0.5 s", id="hangs"),
    ],
)
def test_helper_failures_are_explained_without_secrets(
    helpers: Path, body: str | None, problem: str
) -> None:
    if body is not None:
        make_helper(helpers, "store", body)
    store = CredentialStore([("config", {"credsStore": "store"})], helper_timeout=0.5)
    assert run(store.lookup("ghcr.io")) is None
    note = store.problem("ghcr.io")
    assert note is not None
    assert problem in note
    assert SECRET not in note


# -- where credentials may travel -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://ghcr.io/token", True, id="https"),
        pytest.param("http://ghcr.io/token", False, id="plain-remote"),
        pytest.param("http://127.0.0.1:5000/v2/", True, id="loopback-v4"),
        pytest.param("http://127.3.4.5:5000/v2/", True, id="loopback-range"),
        pytest.param("http://[::1]:5000/v2/", True, id="loopback-v6"),
        pytest.param("http://localhost/v2/", True, id="localhost"),
        pytest.param("http://registry.lan:5000/v2/", True, id="insecure-listed"),
        pytest.param("http://registry.lan:5001/v2/", False, id="insecure-other-port"),
    ],
)
def test_credentials_travel_in_the_clear_only_to_loopback_and_insecure_hosts(
    url: str, allowed: bool
) -> None:
    endpoints = Endpoints(insecure=["registry.lan:5000"])
    assert endpoints.may_send_credentials(httpx.URL(url)) is allowed


# -- Basic (htpasswd) registry ----------------------------------------------------------------


def test_htpasswd_with_the_right_credentials(htpasswd_registry: Registry) -> None:
    image = push_image(htpasswd_registry, "basic/ok", "1")

    async def check() -> str:
        async with client_with(docker_config(htpasswd_registry)) as client:
            return (await client.head_digest(ref(htpasswd_registry, "basic/ok", "1"))).digest

    assert run(check()) == image.digest


def _refused(
    registry: Registry, repository: str, password: str | None, caplog: pytest.LogCaptureFixture
) -> RegistryError:
    """The error a HEAD of `repository`:1 ends in, as alice with `password` (None: anonymous),
    with debug logs captured for the secret checks."""
    push_image(registry, repository, "1")
    config = {"auths": {registry.host: basic("alice", password)}} if password else None
    caplog.set_level(logging.DEBUG)

    async def check() -> RegistryError:
        async with client_with(config) as client:
            with pytest.raises(Unauthorized) as caught:
                await client.head_digest(ref(registry, repository, "1"))
        return caught.value

    return run(check())


@pytest.mark.parametrize(
    ("password", "words"),
    [
        pytest.param(SECRET, "with the credentials configured for", id="wrong"),
        pytest.param(None, "without credentials (none configured for", id="none"),
    ],
)
def test_htpasswd_refusals(
    htpasswd_registry: Registry,
    caplog: pytest.LogCaptureFixture,
    password: str | None,
    words: str,
) -> None:
    error = _refused(htpasswd_registry, "basic/refused", password, caplog)
    assert words in str(error)
    assert f"{htpasswd_registry.host}/basic/refused:1" in str(error)
    assert_no_secret(error, caplog, SECRET, htpasswd_registry.password)


def assert_no_secret(
    error: BaseException, caplog: pytest.LogCaptureFixture, *secrets: str | None
) -> None:
    for secret in filter(None, secrets):
        encoded = base64.b64encode(secret.encode()).decode()
        for text in (str(error), repr(error), caplog.text):
            assert secret not in text
            assert encoded[:12] not in text


# -- Bearer token registry --------------------------------------------------------------------


def test_anonymous_pulls_of_public_repositories(token_registry: Registry) -> None:
    image = push_image(token_registry, "public/app", "1")
    server = server_of(token_registry)
    mark = server.mark()

    async def check() -> str:
        async with client_with(None) as client:
            reference = ref(token_registry, "public/app", "1")
            head = await client.head_digest(reference)
            await client.head_digest(reference)
            await client.digest_info(reference, head.digest)
            return head.digest

    assert run(check()) == image.digest
    asked = server.since(mark)
    assert [(r.scopes, r.authorized) for r in asked] == [(("repository:public/app:pull",), False)]


def test_private_repositories_with_credentials(token_registry: Registry) -> None:
    image = push_image(token_registry, "private/app", "1")
    server = server_of(token_registry)
    mark = server.mark()

    async def check() -> str:
        async with client_with(docker_config(token_registry)) as client:
            return (await client.head_digest(ref(token_registry, "private/app", "1"))).digest

    assert run(check()) == image.digest
    assert [(r.authorized, r.account) for r in server.since(mark)] == [(True, "alice")]


@pytest.mark.parametrize(
    ("password", "words"),
    [
        pytest.param(None, "registry refused access without credentials", id="anonymous"),
        pytest.param(SECRET, "token server refused the request with the credentials", id="wrong"),
    ],
)
def test_private_repositories_refuse(
    token_registry: Registry,
    caplog: pytest.LogCaptureFixture,
    password: str | None,
    words: str,
) -> None:
    error = _refused(token_registry, "private/refused", password, caplog)
    assert words in str(error)
    assert "private/refused" in str(error)
    assert_no_secret(error, caplog, SECRET, token_registry.password)


def test_identity_tokens_are_exchanged_at_the_realm(token_registry: Registry) -> None:
    image = push_image(token_registry, "private/refreshed", "1")
    server = server_of(token_registry)
    refresh_token = next(iter(server.policy.refresh_tokens))
    config = {"auths": {token_registry.host: {"auth": "", "identitytoken": refresh_token}}}
    mark = server.mark()

    async def check() -> str:
        async with client_with(config) as client:
            return (await client.head_digest(ref(token_registry, "private/refreshed", "1"))).digest

    assert run(check()) == image.digest
    assert [(r.method, r.account) for r in server.since(mark)] == [("POST", "alice")]


def test_tokens_are_batched_for_several_repositories(token_registry: Registry) -> None:
    names = ["batch/a", "batch/b", "private/batch-c"]
    images = [push_image(token_registry, name, "1") for name in names]
    server = server_of(token_registry)
    mark = server.mark()

    async def check() -> list[str]:
        async with client_with(docker_config(token_registry)) as client:
            await client.prefetch_tokens(token_registry.host, names)
            return [
                (await client.head_digest(ref(token_registry, name, "1"))).digest for name in names
            ]

    assert run(check()) == [image.digest for image in images]
    asked = server.since(mark)
    assert len(asked) == 1
    assert asked[0].scopes == tuple(f"repository:{name}:pull" for name in names)
    assert asked[0].authorized


def test_a_scope_left_out_of_a_batch_gets_its_own_request(token_registry: Registry) -> None:
    """Anonymously, the token server leaves the private scope out of the batched token."""
    names = ["batch/public", "private/left-out"]
    public = push_image(token_registry, names[0], "1")
    push_image(token_registry, names[1], "1")
    server = server_of(token_registry)
    mark = server.mark()

    async def check() -> str:
        async with client_with(None) as client:
            await client.prefetch_tokens(token_registry.host, names)
            digest = (await client.head_digest(ref(token_registry, names[0], "1"))).digest
            with pytest.raises(Unauthorized):
                await client.head_digest(ref(token_registry, names[1], "1"))
            return digest

    assert run(check()) == public.digest
    assert [r.scopes for r in server.since(mark)] == [
        ("repository:batch/public:pull", "repository:private/left-out:pull"),
        ("repository:private/left-out:pull",),
    ]


def test_credentials_only_go_to_their_own_registry(
    token_registry: Registry, plain_registry: Registry
) -> None:
    push_image(token_registry, "public/elsewhere", "1")
    push_image(plain_registry, "public/elsewhere", "1")
    server = server_of(token_registry)
    # Credentials for the plain registry only: the token registry's realm gets none.
    config = {"auths": {plain_registry.host: basic("alice", SECRET)}}
    mark = server.mark()

    async def check() -> None:
        async with client_with(config) as client:
            await client.head_digest(ref(token_registry, "public/elsewhere", "1"))
            await client.head_digest(ref(plain_registry, "public/elsewhere", "1"))

    run(check())
    assert [r.authorized for r in server.since(mark)] == [False]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_renewed_when_they_expire(token_registry: Registry) -> None:
    push_image(token_registry, "public/expiring", "1")
    server = server_of(token_registry)
    clock = Clock()
    mark = server.mark()

    async def check() -> None:
        async with client_with(None, clock=clock) as client:
            reference = ref(token_registry, "public/expiring", "1")
            await client.head_digest(reference)
            clock.now += 200  # within the 300 s lifetime
            await client.head_digest(reference)
            clock.now += 200
            await client.head_digest(reference)

    run(check())
    assert len(server.since(mark)) == 2
