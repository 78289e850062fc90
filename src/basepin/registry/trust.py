"""The TLS trust store, loaded on a thread of its own while the HTTP stack is being imported.

OpenSSL reads the CA bundle (some 150 certificates, ~30 ms) without holding the GIL, so the
load costs an online run no time when it overlaps the imports; `ssl` itself is imported on
that thread too. The trust is what httpx would use by default: `SSL_CERT_FILE`, else
`SSL_CERT_DIR`, else certifi's bundle.
"""

from __future__ import annotations

import os
import threading

from basepin.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl


class TrustLoader:
    """Loads the default TLS context on a thread, from construction on or from `start()`;
    `context()` waits for it (from any thread, even before `start()`)."""

    def __init__(self, *, start: bool = True) -> None:
        self._context: ssl.SSLContext | None = None
        self._error: ConfigError | None = None
        self._thread = threading.Thread(target=self._load, name="basepin-trust", daemon=True)
        self._started = threading.Event()
        if start:
            self.start()

    def start(self) -> None:
        """Start loading (for a loader made with `start=False`)."""
        self._thread.start()
        self._started.set()

    def context(self) -> ssl.SSLContext:
        self._started.wait()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._context is not None
        return self._context

    def _load(self) -> None:
        try:
            self._context = default_context()
        except ConfigError as exc:
            self._error = exc


def default_context() -> ssl.SSLContext:
    """A verifying TLS context with the trust httpx uses by default."""
    import ssl  # on the loader's thread: ~8 ms the main thread need not wait for

    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if not (cafile or capath):
        return ssl.create_default_context(cafile=_certifi_bundle())
    variable, location = ("SSL_CERT_FILE", cafile) if cafile else ("SSL_CERT_DIR", capath)
    try:
        return ssl.create_default_context(cafile=cafile or None, capath=None if cafile else capath)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            f"{variable}={location}: cannot load the certificates ({reason})"
        ) from None


def _certifi_bundle() -> str:
    """certifi's CA bundle (httpx's own dependency, so always there). Found beside its package
    rather than by importing it: `import certifi` loads importlib.resources, zipfile and more
    (~14 ms of the GIL an online run's start-up needs); `certifi.where()` where that fails, e.g.
    in a zip."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("certifi")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        bundle = Path(folder, "cacert.pem")
        if bundle.is_file():
            return str(bundle)
    import certifi

    return certifi.where()
