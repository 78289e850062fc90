"""Manifests as registries send them, read and digest-checked over bytes: no I/O, testable alone."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from basepin.digests import digest_problem
from basepin.model import Platform
from basepin.reference import ImageReference
from basepin.registry.errors import ProtocolError

if TYPE_CHECKING:
    from basepin.registry.http import Reply

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

# Reproducible builds stamp these; they say nothing about the image's age.
UNKNOWN_DATES = frozenset({date(1970, 1, 1), date(1980, 1, 1), date(1, 1, 1)})
DEFAULT_PLATFORM = Platform("linux", "amd64")
ATTESTATION_TYPE = "attestation-manifest"
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class Manifest:
    """A manifest as received, its digest checked against the bytes."""

    digest: str
    media_type: str
    body: bytes
    document: Mapping[str, Any]


def reference_text(ref: ImageReference, target: str) -> str:
    separator = "@" if ":" in target else ":"
    return f"{ref.registry}/{ref.repository}{separator}{target}"


def header_media_type(reply: Reply) -> str | None:
    value = reply.headers.get("content-type", "").split(";")[0].strip()
    return value or None


def checked_digest(digest: str, ref: ImageReference, what: str) -> str:
    problem = digest_problem(digest)
    if problem is not None:
        raise ProtocolError(
            f"{what}: the registry sent {digest[:140]!r} as a digest: {problem}",
            registry=ref.registry,
            repository=ref.repository,
        )
    return digest


def verified_digest(reply: Reply, expected: str | None, ref: ImageReference, what: str) -> str:
    """The digest of the bytes received; it must match `expected` and the registry's header."""
    header = reply.headers.get("docker-content-digest")
    claims = [claim for claim in (expected, header) if claim]
    for claim in claims:
        checked_digest(claim, ref, what)
    algorithm = (claims[0] if claims else "sha256:").partition(":")[0]
    actual = f"{algorithm}:{hashlib.new(algorithm, reply.body).hexdigest()}"
    for claim in claims:
        if claim != actual:
            source = "the requested digest" if claim == expected else "its Docker-Content-Digest"
            raise ProtocolError(
                f"{what}: the content the registry sent has digest {actual}, "
                f"not {claim} ({source})",
                registry=ref.registry,
                repository=ref.repository,
            )
    return actual


def parsed_manifest(reply: Reply, digest: str, ref: ImageReference, what: str) -> Manifest:
    """The manifest in a (digest-checked) answer, with its media type made out."""
    document = json_object(reply.body, ref, what)
    declared = document.get("mediaType") or header_media_type(reply)
    if declared in INDEX_TYPES or declared in IMAGE_TYPES:
        media_type = str(declared)
    elif document.get("schemaVersion") == 2 and isinstance(document.get("manifests"), list):
        media_type = OCI_INDEX
    elif document.get("schemaVersion") == 2 and isinstance(document.get("config"), dict):
        media_type = OCI_MANIFEST
    else:
        raise ProtocolError(
            f"{what}: unsupported manifest type {declared or 'schema 1'}",
            registry=ref.registry,
            repository=ref.repository,
        )
    return Manifest(digest, media_type, reply.body, document)


def json_object(body: bytes, ref: ImageReference, what: str) -> Mapping[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise ProtocolError(
            f"{what}: the registry sent malformed JSON",
            registry=ref.registry,
            repository=ref.repository,
        )
    return document


def malformed(ref: ImageReference, manifest: Manifest, problem: str) -> ProtocolError:
    return ProtocolError(
        f"{reference_text(ref, manifest.digest)}: malformed manifest: {problem}",
        registry=ref.registry,
        repository=ref.repository,
    )


def descriptor(entry: Any, ref: ImageReference, manifest: Manifest) -> tuple[str, int]:
    if not isinstance(entry, dict):
        raise malformed(ref, manifest, "a descriptor is not an object")
    digest, size = entry.get("digest"), entry.get("size")
    if not isinstance(digest, str) or not isinstance(size, int) or isinstance(size, bool):
        raise malformed(ref, manifest, "a descriptor lacks its digest or size")
    return checked_digest(digest, ref, reference_text(ref, manifest.digest)), size


def platform_of(value: Any) -> Platform | None:
    if not isinstance(value, Mapping):
        return None
    os_name, architecture = value.get("os"), value.get("architecture")
    if not isinstance(os_name, str) or not isinstance(architecture, str):
        return None
    variant = value.get("variant")
    return Platform(
        os_name, architecture, variant if isinstance(variant, str) and variant else None
    )


def _is_attestation(entry: Mapping[str, Any], platform: Platform | None) -> bool:
    annotations = entry.get("annotations")
    if isinstance(annotations, Mapping) and (
        annotations.get("vnd.docker.reference.type") == ATTESTATION_TYPE
    ):
        return True
    return platform is not None and (platform.os, platform.architecture) == ("unknown", "unknown")


def index_children(manifest: Manifest, ref: ImageReference) -> list[tuple[str, Platform]]:
    """(digest, platform) of an index's platform children; attestations left out."""
    entries = manifest.document.get("manifests")
    if not isinstance(entries, list):
        raise malformed(ref, manifest, "'manifests' is not a list")
    children = []
    for entry in entries:
        digest, _ = descriptor(entry, ref, manifest)
        platform = platform_of(entry.get("platform"))
        if platform is not None and not _is_attestation(entry, platform):
            children.append((digest, platform))
    return children


def choose_child(children: Sequence[tuple[str, Platform]], wanted: Platform | None) -> str | None:
    for preferred in (wanted, DEFAULT_PLATFORM):
        for digest, platform in children:
            if preferred is not None and _matches(platform, preferred):
                return digest
    return children[0][0] if children else None


def _matches(platform: Platform, wanted: Platform) -> bool:
    if (platform.os, platform.architecture) != (wanted.os, wanted.architecture):
        return False
    return wanted.variant is None or platform.variant == wanted.variant


CREATED_ANNOTATION = "org.opencontainers.image.created"


def annotated_created(document: Mapping[str, Any]) -> datetime | None:
    """The `org.opencontainers.image.created` annotation of an index or manifest, where it
    holds a date that means something."""
    annotations = document.get("annotations")
    if not isinstance(annotations, Mapping):
        return None
    return parse_created(annotations.get(CREATED_ANNOTATION))


def dated(annotated: datetime | None, built: datetime | None) -> tuple[datetime | None, str | None]:
    if annotated is not None:
        return annotated, "annotation"
    return built, None if built is None else "config"


def parse_created(value: Any) -> datetime | None:
    """The config's `created` (RFC 3339, nanoseconds allowed); None if unknown or an epoch."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Go writes nanoseconds; fromisoformat (3.10) wants exactly 3 or 6 digits.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    when = (
        when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    )
    return None if when.date() in UNKNOWN_DATES else when
