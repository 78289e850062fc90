"""Registry credentials (Docker's config and credential helpers) and the token dance.

Credentials come from `DOCKER_AUTH_CONFIG` (inline JSON, checked first) and
`$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), read as Docker reads them:
`credHelpers[host]`, else `credsStore`, run as `docker-credential-<name> get`; else
`auths.<host>` (`auth` = base64 `user:password`, or `identitytoken`). Keys may carry a scheme
and a path; Docker Hub's key is `https://index.docker.io/v1/`.

A credential goes only to the host it is filed under and to the token realm that host names,
and only over HTTPS unless the host is loopback or listed as insecure. `Credential` hides its
secrets from `repr`, and no message or log line here ever holds one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from basepin.errors import ConfigError
from basepin.reference import DOCKER_HUB
from basepin.registry.early import Answer
from basepin.registry.endpoints import Endpoints, normalise_host
from basepin.registry.errors import ProtocolError, RegistryError, Unauthorized
from basepin.registry.http import Reply, Sender, joined_url

logger = logging.getLogger(__name__)

DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
# Credential helpers answer this user name when the secret is an identity (refresh) token.
IDENTITY_TOKEN_USER = "<token>"
DEFAULT_TOKEN_LIFETIME = 60.0
# The scopes of one batched token request take at most this many bytes of its URL, well
# under the 8 KiB request line common servers and proxies accept.
MAX_SCOPE_QUERY_BYTES = 6000
OAUTH_CLIENT_ID = "basepin"


@dataclass(frozen=True)
class Credential:
    """A user name and password, or an identity token; `repr` shows neither secret."""

    username: str
    password: str = field(default="", repr=False)
    # An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token realm.
    identity_token: str | None = field(default=None, repr=False)

    def basic_header(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def credential_key(server: str) -> str:
    """The host a config key or server URL files credentials under: no scheme, no path."""
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    return normalise_host(host.partition("/")[0])


@dataclass(frozen=True)
class _DockerConfig:
    """One parsed Docker config: where it came from and what it holds."""

    source: str
    auths: Mapping[str, Credential]
    helpers: Mapping[str, str]
    store: str | None


class CredentialStore:
    """Looks up the credential for a registry host, at most once per host and run."""

    def __init__(
        self,
        documents: Iterable[tuple[str, Mapping[str, Any]]] = (),
        *,
        helper_timeout: float = 10.0,
    ) -> None:
        """`documents` are parsed Docker configs as (source name, JSON object); first wins."""
        self._configs = tuple(_parse_config(source, document) for source, document in documents)
        self._helper_timeout = helper_timeout
        self._found: dict[str, Credential | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # Why a helper gave nothing for a host, to explain a later refusal.
        self._problems: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"CredentialStore(sources={[config.source for config in self._configs]!r})"

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, home: Path | None = None
    ) -> CredentialStore:
        """`DOCKER_AUTH_CONFIG`, then `$DOCKER_CONFIG/config.json` or ~/.docker/config.json."""
        environ = os.environ if environ is None else environ
        documents: list[tuple[str, Mapping[str, Any]]] = []
        inline = environ.get("DOCKER_AUTH_CONFIG", "").strip()
        if inline:
            documents.append(("DOCKER_AUTH_CONFIG", _load_json("DOCKER_AUTH_CONFIG", inline)))
        folder = environ.get("DOCKER_CONFIG")
        path = (
            Path(folder) / "config.json"
            if folder
            else (home or Path.home()) / ".docker" / "config.json"
        )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the Docker config ({exc.strerror})") from exc
        if text.strip():
            documents.append((str(path), _load_json(str(path), text)))
        return cls(documents)

    def problem(self, host: str) -> str | None:
        """Why no credential could be had for `host` although one was configured."""
        return self._problems.get(credential_key(host))

    async def lookup(self, host: str) -> Credential | None:
        key = credential_key(host)
        if key in self._found:
            return self._found[key]
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._found:
                self._found[key] = await self._find(key)
            return self._found[key]

    async def _find(self, key: str) -> Credential | None:
        for config in self._configs:
            helper = config.helpers.get(key) or config.store
            if helper:
                found = await self._ask_helper(helper, key)
                if found is not None:
                    return found
            credential = config.auths.get(key)
            if credential is not None:
                return credential
        return None

    async def _ask_helper(self, helper: str, key: str) -> Credential | None:
        program = f"docker-credential-{helper}"
        path = shutil.which(program)
        if path is None:
            self._problems[key] = f"credential helper {program} is not installed"
            return None
        server = DOCKER_HUB_CONFIG_KEY if key == DOCKER_HUB else key
        try:
            process = await asyncio.create_subprocess_exec(
                path,
                "get",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            self._problems[key] = f"credential helper {program} cannot run ({exc.strerror})"
            return None
        try:
            out, _ = await asyncio.wait_for(
                process.communicate(server.encode()), self._helper_timeout
            )
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            self._problems[key] = (
                f"credential helper {program} gave no answer within {self._helper_timeout:g} s"
            )
            return None
        if process.returncode != 0:
            # The helper protocol's way of saying "nothing stored for this server".
            if b"credentials not found" not in out.lower():
                self._problems[key] = f"credential helper {program} failed ({process.returncode})"
            return None
        return self._helper_credential(out, program, key)

    def _helper_credential(self, out: bytes, program: str, key: str) -> Credential | None:
        try:
            answer = json.loads(out)
            username, secret = str(answer["Username"]), str(answer["Secret"])
        except (ValueError, KeyError, TypeError):
            self._problems[key] = f"credential helper {program} answered something unreadable"
            return None
        if not secret:
            return None
        if username == IDENTITY_TOKEN_USER:
            return Credential(username, identity_token=secret)
        return Credential(username, secret)


def _load_json(source: str, text: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the text may hold secrets.
        raise ConfigError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    return document


def _parse_config(source: str, document: Mapping[str, Any]) -> _DockerConfig:
    auths, helpers, store = (document.get(name) for name in ("auths", "credHelpers", "credsStore"))
    auths = {} if auths is None else auths
    helpers = {} if helpers is None else helpers
    store = store or None
    if not isinstance(auths, dict) or not isinstance(helpers, dict):
        raise ConfigError(f"{source}: 'auths' and 'credHelpers' must be JSON objects")
    if store is not None and not isinstance(store, str):
        raise ConfigError(f"{source}: 'credsStore' must be a string")
    parsed: dict[str, Credential] = {}
    for key, entry in auths.items():
        credential = _parse_auth_entry(source, key, entry)
        if credential is not None:
            parsed.setdefault(credential_key(key), credential)
    return _DockerConfig(
        source,
        parsed,
        {credential_key(key): str(name) for key, name in helpers.items() if name},
        store,
    )


def _parse_auth_entry(source: str, key: str, entry: Any) -> Credential | None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{source}: auths.{key} must be a JSON object")
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    encoded = entry.get("auth")
    if encoded:
        try:
            username, colon, password = base64.b64decode(str(encoded)).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            colon = ""
        if not colon:
            raise ConfigError(f"{source}: auths.{key}.auth is not base64 of 'user:password'")
    identity = str(entry.get("identitytoken") or "") or None
    if not (password or identity):
        return None
    return Credential(username, password, identity)


# ---------------------------------------------------------------------------------------------
# Challenges and tokens

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
