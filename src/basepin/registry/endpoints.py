"""Where a registry answers, and where its credentials may travel; free of the HTTP stack, so
the first ping of a run (`basepin.registry.early`) can be sent before httpx is imported.

Endpoints follow Docker: Docker Hub (any spelling) is `https://registry-1.docker.io`; a host
listed as insecure is spoken to over plain HTTP; a loopback host (localhost, 127.0.0.0/8, ::1)
is tried over HTTPS first and over HTTP when the TLS handshake fails; every other host is HTTPS
only. A mirror replaces the registry's base URL (the reference stays as written).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from basepin import __version__
from basepin.errors import ConfigError
from basepin.reference import DOCKER_HUB, DOCKER_HUB_HOSTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import httpx

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
USER_AGENT = f"basepin/{__version__}"


def proxied() -> bool:
    """Whether the environment names an HTTP proxy (httpx reads it the same way)."""
    from urllib.request import getproxies  # imported by httpx already

    proxies = getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def normalise_host(host: str) -> str:
    """Lowercase host[:port]; every spelling of Docker Hub becomes `docker.io`."""
    lowered = host.strip().lower()
    return DOCKER_HUB if lowered in DOCKER_HUB_HOSTS else lowered


def split_port(host: str) -> str:
    """The host name of host[:port], without brackets around an IPv6 address."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() else host


def is_loopback(host: str) -> bool:
    name = split_port(host.lower())
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Endpoints:
    """Which base URLs answer for a registry host, and where credentials may travel."""

    def __init__(
        self,
        mirrors: Mapping[str, str] | None = None,
        insecure: Collection[str] = (),
        *,
        hub_registry: str | None = None,
    ) -> None:
        """`hub_registry`: where Docker Hub's registry itself answers (a stand-in for
        registry-1.docker.io; unlike a mirror's, its manifests cost pull quota)."""
        self._mirrors = {
            normalise_host(host): _checked_mirror(host, url)
            for host, url in (mirrors or {}).items()
        }
        self._insecure = frozenset(normalise_host(host) for host in insecure)
        self._hub = _checked_mirror(DOCKER_HUB, hub_registry) if hub_registry else None

    def __repr__(self) -> str:
        return f"Endpoints(mirrors={self._mirrors!r}, insecure={sorted(self._insecure)!r})"

    def mirrored(self, registry: str) -> bool:
        """Whether `registry`'s lookups go to a mirror."""
        return normalise_host(registry) in self._mirrors

    def base_urls(self, registry: str) -> tuple[str, ...]:
        """Base URLs to try for `registry`, in order (more than one only for loopback hosts)."""
        host = normalise_host(registry)
        if host in self._mirrors:
            return (self._mirrors[host],)
        if host == DOCKER_HUB:
            return (self._hub or DOCKER_HUB_ENDPOINT,)
        if self._is_insecure(host):
            return (f"http://{host}",)
        if is_loopback(host):
            return (f"https://{host}", f"http://{host}")
        return (f"https://{host}",)

    def may_send_credentials(self, url: httpx.URL) -> bool:
        """Credentials travel over HTTPS, or in the clear only to loopback and insecure hosts."""
        host = url.netloc.decode().lower()
        return url.scheme == "https" or is_loopback(host) or self._is_insecure(host)

    def _is_insecure(self, host: str) -> bool:
        return host in self._insecure or split_port(host) in self._insecure


def _checked_mirror(host: str, url: str) -> str:
    import httpx  # only where mirrors are configured

    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"registry mirror for {host}: {url!r} is not an http(s) URL")
    if parsed.userinfo:
        raise ConfigError(
            f"registry mirror for {host}: put credentials in the Docker config, not in the URL"
        )
    return str(parsed.copy_with(query=None, fragment=None)).rstrip("/")
