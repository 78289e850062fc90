"""The ping sent ahead (`basepin.registry.early`): it sees what the HTTP client would see, steps
aside for anything unusual, and the client that adopts it asks no more than it needs."""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from basepin.reference import parse_reference
from basepin.registry import early
from basepin.registry.early import Answer, Pending, ping, start_pings
from basepin.registry.endpoints import USER_AGENT, Endpoints
from basepin.registry.oci import RegistryClient
from basepin.registry.pools import new_http_client
from basepin.registry.trust import TrustLoader
from fixtures.registry import Registry, push_image

SRC = Path(__file__).resolve().parents[2] / "src"


def _endpoints(registry: Registry, *, insecure: bool = True) -> Endpoints:
    plain = insecure and registry.url.startswith("http:")
    return Endpoints(insecure=[registry.host] if plain else [])


@pytest.mark.parametrize(
    ("kind", "insecure"),
    [
        pytest.param("plain_registry", True, id="plain HTTP, listed insecure"),
        pytest.param("plain_registry", False, id="plain HTTP on loopback: TLS first, then HTTP"),
        pytest.param("htpasswd_registry", True, id="Basic"),
        pytest.param("token_registry", True, id="Bearer"),
        pytest.param("tls_registry", False, id="TLS"),
    ],
)
def test_the_answer_is_what_the_http_client_sees(
    kind: str, insecure: bool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry: Registry = request.getfixturevalue(kind)
    if registry.ca_file is not None:
        monkeypatch.setenv("SSL_CERT_FILE", str(registry.ca_file))
    answer = ping(registry.host, _endpoints(registry, insecure=insecure), TrustLoader(), 5.0)
    assert answer is not None
    assert answer.origin == registry.url
    trust = ssl.create_default_context(cafile=registry.ca_file) if registry.ca_file else True
    seen = httpx.get(f"{registry.url}/v2/", verify=trust)
    assert (answer.status, answer.challenges) == (
        seen.status_code,
        seen.headers.get("www-authenticate", ""),
    )


def test_an_untrusted_certificate_is_left_to_the_http_client(tls_registry: Registry) -> None:
    answers = start_pings([tls_registry.host], Endpoints(), TrustLoader(), 5.0)
    assert answers[tls_registry.host].wait(timeout=10) is None


def test_a_registry_that_cannot_be_reached_is_left_to_the_http_client() -> None:
    endpoints = Endpoints(insecure=["127.0.0.1:9"])
    answers = start_pings(["127.0.0.1:9"], endpoints, TrustLoader(), 5.0)
    assert answers["127.0.0.1:9"].wait(timeout=10) is None


class _Recorded(http.server.BaseHTTPRequestHandler):
    """Answers `GET /v2/` with the server's `status`; remembers each request's headers."""

    def do_GET(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        server.requests.append((self.command, self.path, dict(self.headers.items())))
        self.send_response(server.status)
        if server.status == 401:
            self.send_header("WWW-Authenticate", f'Bearer realm="{server.realm}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    status = 200
    realm = "http://127.0.0.1:9/token"
    requests: list[tuple[str, str, dict[str, str]]]


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server(("127.0.0.1", 0), _Recorded)
    running.requests = []
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.shutdown()
        running.server_close()


def _host(server: _Server) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("status", "learnt"),
    [
        (200, True),
        (401, True),
        (404, True),
        # What the HTTP client retries or waits for is its to handle.
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (504, False),
    ],
)
def test_only_answers_the_http_client_would_not_retry_are_kept(
    server: _Server, status: int, learnt: bool
) -> None:
    server.status = status
    host = _host(server)
    answer = ping(host, Endpoints(insecure=[host]), TrustLoader(), 5.0)
    assert (answer is not None) == learnt
    if answer is not None:
        assert (answer.origin, answer.status) == (f"http://{host}", status)


def test_the_ping_carries_no_credentials(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = _host(server)
    (tmp_path / "config.json").write_text(f'{{"auths": {{"{host}": {{"auth": "YTpi"}}}}}}')
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert ping(host, Endpoints(insecure=[host]), TrustLoader(), 5.0) is not None
    [(method, path, headers)] = server.requests
    assert (method, path) == ("GET", "/v2/")
    assert headers["User-Agent"] == USER_AGENT
    assert "Authorization" not in headers


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_behind_a_proxy_nothing_is_sent_ahead(
    server: _Server, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:9")
    host = _host(server)
    assert ping(host, Endpoints(insecure=[host]), TrustLoader(), 5.0) is None
    assert server.requests == []


def test_a_mirror_is_pinged_in_the_registry_s_place(server: _Server) -> None:
    mirror = f"http://{_host(server)}/prefix"
    answer = ping("docker.io", Endpoints(mirrors={"docker.io": mirror}), TrustLoader(), 5.0)
    assert answer == Answer(mirror, 200, "")
    assert [path for _, path, _ in server.requests] == ["/prefix/v2/"]


def test_the_first_few_registries_are_pinged_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    pinged: Counter[str] = Counter()

    def counting(registry: str, *args: Any, **kwargs: Any) -> None:
        pinged[registry] += 1

    monkeypatch.setattr(early, "ping", counting)
    names = ["a.test", "b.test", "a.test", "c.test", "d.test", "e.test"]
    answers = start_pings(names, Endpoints(), TrustLoader(), 5.0)
    for answer in answers.values():
        answer.wait(timeout=10)
    assert early.MOST_REGISTRIES == 4
    assert list(answers) == ["a.test", "b.test", "c.test", "d.test"]
    assert pinged == Counter(dict.fromkeys(answers, 1))


def test_importing_it_loads_no_http_stack() -> None:
    script = (
        "import sys, basepin.registry.early\n"
        "print(sorted({'httpx', 'httpcore', 'asyncio', 'http.client'} & set(sys.modules)))\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"


# -- adopting the answer ---------------------------------------------------------------------


def _pings_sent(client: httpx.AsyncClient) -> Counter[str]:
    counts: Counter[str] = Counter()

    async def record(request: httpx.Request) -> None:
        counts["ping" if request.url.path == "/v2/" else request.method] += 1

    client.event_hooks["request"].append(record)
    return counts


def _adopting(registry: Registry, endpoints: Endpoints, answer: Pending) -> Counter[str]:
    """The requests a client that adopts `answer` sends itself to look a pushed image up."""
    image = push_image(registry, "early/adopted", "1.0")

    async def check() -> tuple[str, Counter[str]]:
        async with new_http_client(timeout=5.0) as http:
            sent = _pings_sent(http)
            client = RegistryClient(http, endpoints=endpoints)
            client.adopt(registry.host, answer)
            await client.introduce(registry.host)
            head = await client.head_digest(parse_reference(image.reference))
            return head.digest, sent

    digest, sent = asyncio.run(check())
    assert digest == image.digest
    return sent


def _answered(answer: Answer | None) -> Pending:
    pending = Pending()
    pending.give(answer)
    return pending


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "loopback, probed"])
def test_an_answer_that_came_ahead_spares_the_ping(
    token_registry: Registry, insecure: bool
) -> None:
    endpoints = _endpoints(token_registry, insecure=insecure)
    answer = ping(token_registry.host, endpoints, TrustLoader(), 5.0)
    assert answer is not None
    assert answer.status == 401
    sent = _adopting(token_registry, endpoints, _answered(answer))
    # No /v2/ of its own, neither over TLS first nor over HTTP: straight to the token.
    assert sent == Counter({"GET": 1, "HEAD": 1})


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(_answered(None), id="no answer"),
        pytest.param(Pending(), id="an answer that does not come in time"),
        pytest.param(_answered(Answer("http://elsewhere.test", 200, "")), id="from another origin"),
    ],
)
def test_without_a_usable_answer_the_client_pings_itself(
    token_registry: Registry, answer: Pending, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("basepin.registry.session.EARLY_ANSWER_WAIT", 0.2)
    sent = _adopting(token_registry, _endpoints(token_registry), answer)
    assert sent == Counter({"ping": 1, "GET": 1, "HEAD": 1})


def test_a_token_realm_is_connected_to_as_soon_as_it_is_named(server: _Server) -> None:
    host = _host(server)
    with socket.create_server(("127.0.0.1", 0)) as realm:
        realm.settimeout(5)
        server.status, server.realm = 401, f"http://127.0.0.1:{realm.getsockname()[1]}/token"

        async def introduce() -> None:
            async with new_http_client(timeout=5.0) as http:
                await RegistryClient(http, endpoints=Endpoints(insecure=[host])).introduce(host)
                await asyncio.sleep(0.2)  # the connection opens in the background

        asyncio.run(introduce())
        # Accepted by the kernel before anything was asked of the realm.
        connection, _ = realm.accept()
        connection.close()


def test_an_answer_is_passed_on_whether_it_came_before_or_after() -> None:
    seen: list[Answer | None] = []
    pending = Pending()
    pending.then(seen.append)
    assert pending.wait(timeout=0.01) is None
    answer = Answer("http://registry.test", 200, "")
    pending.give(answer)
    pending.then(seen.append)
    assert seen == [answer, answer]
    assert pending.wait() == answer


def test_an_answer_after_the_run_is_over_goes_nowhere(
    token_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("basepin.registry.session.EARLY_ANSWER_WAIT", 0.1)
    late = Pending()
    _adopting(token_registry, _endpoints(token_registry), late)
    # The event loop is closed by now: giving the answer must not fail the giving thread.
    late.give(Answer(token_registry.url, 200, ""))
