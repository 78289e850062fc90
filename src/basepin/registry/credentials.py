"""Registry credentials: Docker's config and credential helpers, read as Docker reads them.

Credentials come from `DOCKER_AUTH_CONFIG` (inline JSON, checked first) and
`$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`): `credHelpers[host]`, else
`credsStore`, run as `docker-credential-<name> get`; else `auths.<host>` (`auth` = base64
`user:password`, or `identitytoken`). Keys may carry a scheme and a path; Docker Hub's key is
`https://index.docker.io/v1/`. `Credential` hides its secrets from `repr`, and no message or log
line here ever holds one. Where they may travel is `registry.auth`'s business.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basepin.errors import ConfigError
from basepin.reference import DOCKER_HUB
from basepin.registry.endpoints import normalise_host

logger = logging.getLogger(__name__)

DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
# Credential helpers answer this user name when the secret is an identity (refresh) token.
IDENTITY_TOKEN_USER = "<token>"


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
