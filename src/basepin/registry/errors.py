"""What can go wrong when asking a registry; every message says what and where, never secrets.

`NotFound` is an answer (the `unknown` rule reports it); the others mean the reference could not
be checked, so a run that meets them is incomplete (exit 3).
"""

from __future__ import annotations

from basepin.errors import BasepinError


class RegistryError(BasepinError):
    """A registry question that got no usable answer."""

    exit_code = 3

    def __init__(self, message: str, *, registry: str, repository: str | None = None) -> None:
        super().__init__(message)
        self.registry = registry
        self.repository = repository


class NotFound(RegistryError):
    """The registry says the repository, tag, digest or blob does not exist."""

    def __init__(
        self,
        message: str,
        *,
        registry: str,
        repository: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, registry=registry, repository=repository)
        # The registry's error code (`NAME_UNKNOWN`, `MANIFEST_UNKNOWN`, ...), where it sent one.
        self.code = code


class RepositoryNotFound(NotFound):
    """`NAME_UNKNOWN`: no such repository."""


class ManifestNotFound(NotFound):
    """`MANIFEST_UNKNOWN` (or a bare 404): no such tag or digest in the repository."""


class BlobNotFound(NotFound):
    """`BLOB_UNKNOWN`: a manifest names a blob the registry does not have."""


class Unauthorized(RegistryError):
    """The registry or its token server refused: no, wrong or insufficient credentials."""


class RateLimited(RegistryError):
    """429 Too Many Requests, and waiting as `Retry-After` asks would exceed the budget."""

    def __init__(
        self,
        message: str,
        *,
        registry: str,
        repository: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, registry=registry, repository=repository)
        self.retry_after = retry_after


class Unavailable(RegistryError):
    """The registry could not be reached or kept failing: network error, timeout, 5xx."""


class ProtocolError(RegistryError):
    """The registry answered something that cannot be trusted or read: a digest that does not
    match the bytes, malformed JSON, an unknown manifest type."""


class Unverified(RegistryError):
    """A digest that would be written could not be confirmed over bytes or by a second,
    independent answer: it is reported, never written."""
