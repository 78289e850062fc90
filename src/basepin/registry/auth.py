"""The token dance: challenges, token requests, and where credentials may travel. The
credentials themselves come from `registry.credentials`.

A credential goes only to the host it is filed under and to the token realm that host names,
and only over HTTPS unless the host is loopback or listed as insecure. `Credential` hides its
secrets from `repr`, and no message or log line here ever holds one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from basepin.registry.credentials import (
    Credential,
    CredentialStore,
    credential_key,
)
from basepin.registry.early import Answer
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import ProtocolError, RegistryError, Unauthorized
from basepin.registry.http import Reply, Sender, joined_url

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 60.0
# The scopes of one batched token request take at most this many bytes of its URL, well
# under the 8 KiB request line common servers and proxies accept.
MAX_SCOPE_QUERY_BYTES = 6000
OAUTH_CLIENT_ID = "basepin"


_PARAM = re.compile(r"""\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)""")
_SCHEME = re.compile(r"\s*,?\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")


@dataclass(frozen=True)
class Challenge:
    """One `WWW-Authenticate` challenge: scheme (lowercase) and parameters (keys lowercase)."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")


def parse_challenges(header: str) -> list[Challenge]:
    """Leniently: quoted or bare values, commas in quoted scopes, several challenges."""
    challenges: list[tuple[str, dict[str, str]]] = []
    position = 0
    while position < len(header):
        param = _PARAM.match(header, position)
        if param and challenges:
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1][1][param.group(1).lower()] = value
            position = param.end()
            continue
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            break
        challenges.append((scheme.group(1).lower(), {}))
        position = scheme.end()
    return [Challenge(scheme, params) for scheme, params in challenges]


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def scope_batches(repositories: Sequence[str]) -> list[list[str]]:
    """`repositories` in order, split where their scopes would outgrow one token URL."""
    batches: list[list[str]] = []
    room = 0
    for repository in repositories:
        # `&scope=` and the scope percent-encoded as a query value at worst.
        cost = 7 + len(quote(pull_scope(repository), safe=""))
        if not batches or cost > room:
            batches.append([])
            room = MAX_SCOPE_QUERY_BYTES
        batches[-1].append(repository)
        room -= cost
    return batches


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float
    # Came from a request for several scopes; a refusal then warrants a token of its own.
    batched: bool


# An origin whose `/v2/` answered without a challenge needs no authorization.
_OPEN = Challenge("none", {})


class Authenticator:
    """Authorization headers per (origin, repository): Basic, or cached Bearer tokens.

    Tokens are cached per (realm, service, scope) until shortly before they expire.
    `prefetch` asks for the tokens of several repositories in one request; where the token
    server leaves a scope out, a refusal falls back to a token of the repository's own.
    """

    def __init__(
        self,
        sender: Sender,
        credentials: CredentialStore,
        endpoints: Endpoints,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sender = sender
        self._credentials = credentials
        self._endpoints = endpoints
        self._clock = clock
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def knows(self, origin: str) -> bool:
        return origin in self._challenges

    def learn(self, origin: str, answer: Reply | Answer) -> Challenge | None:
        """Remember how `origin` wants to be authenticated, from any answer it gave (the HTTP
        client's, or a ping's sent ahead)."""
        if answer.status != 401:
            self._challenges.setdefault(origin, _OPEN)
            return None
        offered = parse_challenges(answer.challenges)
        usable = [c for c in offered if c.scheme == "bearer" and c.realm] or [
            c for c in offered if c.scheme == "basic"
        ]
        if not usable:
            return None
        self._challenges[origin] = usable[0]
        return usable[0]

    async def authorization(self, origin: str, registry: str, repository: str) -> str | None:
        """The header to send up front, from what `origin` asked for before; None: anonymous."""
        challenge = self._challenges.get(origin)
        if challenge is None or challenge is _OPEN:
            return None
        if challenge.scheme == "basic":
            credential = await self._credential_for(origin)
            return credential.basic_header() if credential else None
        key = self._token_key(challenge, repository)
        token = self._valid_token(key)
        if token is None:
            token = await self._fetch_single(origin, registry, repository, challenge, key)
        return f"Bearer {token.value}"

    async def after_refusal(
        self, origin: str, registry: str, repository: str, reply: Reply, sent: str | None
    ) -> str | None:
        """A header worth one more try after a 401 answered `sent`; None when there is none."""
        challenge = self.learn(origin, reply)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            credential = await self._credential_for(origin)
            header = credential.basic_header() if credential else None
            return header if header != sent else None
        key = self._token_key(challenge, repository)
        cached = self._tokens.pop(key, None)
        if cached is not None and sent == f"Bearer {cached.value}" and not cached.batched:
            return None
        token = await self._fetch_single(origin, registry, repository, challenge, key)
        header = f"Bearer {token.value}"
        return header if header != sent else None

    async def prefetch(self, origin: str, registry: str, repositories: Sequence[str]) -> None:
        """One token request for all `repositories` that have no valid token yet (more, at
        once, only where their scopes would make the URL too long)."""
        challenge = self._challenges.get(origin)
        if challenge is None or challenge.scheme != "bearer":
            return
        wanted = [
            repository
            for repository in dict.fromkeys(repositories)
            if self._valid_token(self._token_key(challenge, repository)) is None
        ]
        await asyncio.gather(
            *(
                self._prefetch_batch(origin, registry, challenge, batch)
                for batch in scope_batches(wanted)
            )
        )

    async def _prefetch_batch(
        self, origin: str, registry: str, challenge: Challenge, repositories: Sequence[str]
    ) -> None:
        scopes = [pull_scope(repository) for repository in repositories]
        try:
            token = await self._request_token(origin, registry, None, challenge, scopes)
        except RegistryError as exc:
            # Each repository then asks for its own token when it is first used.
            logger.debug("batched token request for %s refused: %s", registry, exc)
            return
        batched = len(repositories) > 1
        for repository in repositories:
            key = self._token_key(challenge, repository)
            self._tokens[key] = _Token(token.value, token.expires_at, batched)

    def _token_key(self, challenge: Challenge, repository: str) -> tuple[str, str, str]:
        return (challenge.realm or "", challenge.service or "", pull_scope(repository))

    def _valid_token(self, key: tuple[str, str, str]) -> _Token | None:
        token = self._tokens.get(key)
        return token if token is not None and token.expires_at > self._clock() else None

    async def _fetch_single(
        self,
        origin: str,
        registry: str,
        repository: str,
        challenge: Challenge,
        key: tuple[str, str, str],
    ) -> _Token:
        async with self._locks.setdefault(key, asyncio.Lock()):
            token = self._valid_token(key)
            if token is None:
                token = await self._request_token(origin, registry, repository, challenge, [key[2]])
                self._tokens[key] = token
            return token

    async def _credential_for(self, url: str) -> Credential | None:
        parsed = httpx.URL(url)
        if not self._endpoints.may_send_credentials(parsed):
            return None
        return await self._credentials.lookup(parsed.netloc.decode())

    async def _request_token(
        self,
        origin: str,
        registry: str,
        repository: str | None,
        challenge: Challenge,
        scopes: Sequence[str],
    ) -> _Token:
        if not challenge.realm:
            raise ProtocolError(
                f"{registry} asks for a token but names no token realm",
                registry=registry,
                repository=repository,
            )
        realm = joined_url(None, challenge.realm, f"{registry}: its token realm", registry)
        credential = await self._credentials.lookup(httpx.URL(origin).netloc.decode())
        if credential is not None and not self._endpoints.may_send_credentials(realm):
            logger.warning(
                "not sending the credentials for %s to its token realm %s over plain HTTP",
                registry,
                realm.host,
            )
            credential = None
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        what = f"token for {_scope_text(registry, scopes)} from {realm.host}"
        if credential is not None and credential.identity_token:
            form = dict(params) | {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                "client_id": OAUTH_CLIENT_ID,
                "scope": " ".join(scopes),
            }
            request = self._sender.http.build_request("POST", realm, data=form)
        else:
            params += [("scope", scope) for scope in scopes]
            headers = {"Authorization": credential.basic_header()} if credential else {}
            request = self._sender.http.build_request(
                "GET", realm.copy_merge_params(tuple(params)), headers=headers
            )
        reply = await self._sender.send(
            request, registry=registry, repository=repository, what=what
        )
        if reply.status in (401, 403):
            raise Unauthorized(
                f"{what}: the token server refused the request "
                + await self.credentials_note(origin, realm),
                registry=registry,
                repository=repository,
            )
        return self._token_from(reply, registry, repository, what)

    async def credentials_note(self, origin: str, destination: httpx.URL) -> str:
        """Words for a refusal: whether credentials went to `destination`, and if not, why."""
        host = credential_key(httpx.URL(origin).netloc.decode())
        if await self._credentials.lookup(host) is None:
            problem = self._credentials.problem(host)
            return f"without credentials ({problem or f'none configured for {host}'})"
        if not self._endpoints.may_send_credentials(destination):
            return (
                f"without credentials (those for {host} are not sent to {destination.host} "
                "over plain HTTP)"
            )
        return f"with the credentials configured for {host}"

    def _token_from(self, reply: Reply, registry: str, repository: str | None, what: str) -> _Token:
        if reply.status != 200:
            raise Unauthorized(
                f"{what}: the token server answered HTTP {reply.status}",
                registry=registry,
                repository=repository,
            )
        try:
            answer = json.loads(reply.body)
            value = answer.get("token") or answer.get("access_token")
            lifetime = float(answer.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = None, 0.0
        if not isinstance(value, str) or not value:
            raise ProtocolError(
                f"{what}: the token server's answer holds no token",
                registry=registry,
                repository=repository,
            )
        # Renew a little early so a token does not expire on its way to the registry.
        lifetime -= min(10.0, lifetime / 2)
        return _Token(value, self._clock() + lifetime, batched=False)


def _scope_text(registry: str, scopes: Sequence[str]) -> str:
    if len(scopes) == 1:
        return f"{registry}/{scopes[0].split(':')[1]}"
    return f"{len(scopes)} repositories of {registry}"
