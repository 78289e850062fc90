"""The loopback plumbing the stand-in services share (tests/fixtures/loopback.py)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from email.message import Message

import pytest

from fixtures.loopback import MAX_REQUEST_BODY, Canned, LoopbackHandler, LoopbackService


class Echo(LoopbackService):
    """Answers GET with `canned` and POST with the size of the body it read."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.canned = Canned(200, b"hello", {"Content-Type": "text/plain"})


class _Handler(LoopbackHandler[Echo], methods=("GET", "HEAD", "POST")):
    def respond(self) -> None:
        if self.command == "POST":
            self.send_json(200, {"read": len(self.read_body())})
        else:
            self.send_canned(self.owner.canned)


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as service:
        yield service


def ask(service: Echo, method: str, body: bytes | None = None) -> tuple[int, Message, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
    try:
        connection.request(method, "/", body=body)
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


def test_an_answer_carries_its_length_and_no_body_to_head(echo: Echo) -> None:
    status, headers, body = ask(echo, "GET")
    assert (status, body, headers["Content-Length"]) == (200, b"hello", "5")
    status, headers, body = ask(echo, "HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "5")


def test_a_length_the_answer_names_is_kept(echo: Echo) -> None:
    echo.canned = Canned(302, b"", {"Location": "/elsewhere", "content-length": "0"})
    status, headers, _ = ask(echo, "GET")
    assert status == 302
    assert headers.get_all("Content-Length") == ["0"]


def test_a_method_the_handler_does_not_name_gets_501(echo: Echo) -> None:
    assert ask(echo, "DELETE")[0] == 501


def test_a_request_body_is_read_up_to_the_cap(echo: Echo) -> None:
    assert ask(echo, "POST", b"abc")[2] == b'{"read": 3}'
    # The length says more than the cap: the server reads the cap, answers and hangs up
    # (reading to the end would time out on a connection kept open).
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BODY + 1}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as connection:
        connection.sendall(head.encode() + b"x" * MAX_REQUEST_BODY)
        with connection.makefile("rb") as stream:
            answer = stream.read()
    assert answer.endswith(b'{"read": %d}' % MAX_REQUEST_BODY)


def test_the_address_is_loopback_and_close_ends_serving() -> None:
    service = Echo().start()
    assert service.url == f"http://127.0.0.1:{service.port}" == f"http://{service.host}"
    service.close()
    with pytest.raises(ConnectionRefusedError):
        ask(service, "GET")


def test_a_service_never_started_closes() -> None:
    Echo().close()
