"""Read an image's SBOM attestation from its registry, for the platforms wanted.

BuildKit (`--sbom`, and every Docker Official Image) attaches attestations to the image index:
beside each platform manifest an `unknown/unknown` manifest whose descriptor annotations say
`vnd.docker.reference.type: attestation-manifest` and `vnd.docker.reference.digest: <the
platform manifest's digest>`; its layers (`application/vnd.in-toto+json`) are in-toto
statements, annotated `in-toto.io/predicate-type` (moby/buildkit
docs/attestations/attestation-storage.md). The SBOM is the layer whose predicate is SPDX
(or CycloneDX).

Every manifest and blob read is hashed against its digest (`RegistryClient.manifest` and
`.blob`). The index and each attestation manifest are manifest GETs: on Docker Hub each one
counts against the pull limit, so they are counted. An SBOM blob is read to MAX_SBOM_BYTES.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from basepin.records import NamedTuple
from basepin.reference import ImageReference
from basepin.registry.errors import NotFound
from basepin.registry.manifests import ATTESTATION_TYPE, INDEX_TYPES, Manifest
from basepin.registry.oci import RegistryClient
from basepin.sbom import PackageQuery, SbomAnswer, SbomError, predicate_kind, read_statement

# An SBOM is read to this many bytes at most. Docker Official Images' SBOMs (Docker Scout's,
# with every file's checksums) are hundreds of KiB to a few MiB; BuildKit's with build stages
# scanned have been seen at 7 MiB. 32 MiB holds four times that. Memory stays bounded: SBOMs
# are read and parsed at once only while their sizes add up to SBOM_BYTES_AT_ONCE (a parsed
# SBOM takes several times its bytes), so many small ones go together and a large one waits.
MAX_SBOM_BYTES = 32 * 1024 * 1024
SBOM_BYTES_AT_ONCE = 2 * MAX_SBOM_BYTES
IN_TOTO_LAYER = "application/vnd.in-toto+json"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
REFERENCE_TYPE = "vnd.docker.reference.type"
DEFAULT_PLATFORM = "linux/amd64"


class SbomReader:
    """Reads SBOMs through one `RegistryClient` (see SBOM_BYTES_AT_ONCE); counts Docker Hub
    pulls."""

    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry
        self._budget = _Budget(SBOM_BYTES_AT_ONCE)
        self.pulls = 0

    async def read(
        self,
        ref: ImageReference,
        digest: str,
        platforms: Sequence[str],
        *,
        parent: str | None = None,
        on_hub: bool = False,
    ) -> SbomAnswer:
        """The SBOM of the image `digest` names in `ref`'s repository, for `platforms` (none:
        linux/amd64, else the index's first platform). `parent`: an index that may list
        `digest` as one of its platform manifests (for a pin of one platform's manifest)."""
        manifest = await self._manifest(ref, digest, on_hub)
        if manifest.media_type in INDEX_TYPES:
            index, chosen = manifest.document, _chosen(manifest.document, platforms)
            if not chosen:
                wanted = ", ".join(platforms) or DEFAULT_PLATFORM
                return SbomAnswer(None, reason=f"the index has no image for {wanted}")
        elif parent is not None:
            index = (await self._manifest(ref, parent, on_hub)).document
            chosen = [(digest, _platform_of(index, digest) or "its platform")]
        else:
            return SbomAnswer(
                None,
                reason="the digest names one platform's manifest, not an index: "
                "SBOM attestations are attached to an index",
            )
        attested = [(c, p, _attestation_of(index, c)) for c, p in chosen]
        missing = [platform for _, platform, attestation in attested if attestation is None]
        attesting = [(c, p, a) for c, p, a in attested if a is not None]
        if not attesting:
            return SbomAnswer(None, reason=f"no SBOM attestation for {', '.join(missing)}")
        found = await asyncio.gather(*(self._sbom_of(ref, a, c, on_hub) for c, _, a in attesting))
        queries: dict[PackageQuery, None] = {}
        packages = 0
        for (_, platform, _), each in zip(attesting, found, strict=True):
            if isinstance(each, Unreadable):
                return SbomAnswer(None, reason=f"{platform}: {each.reason}", lasting=each.lasting)
            queries.update(dict.fromkeys(each[0]))
            # The platforms' SBOMs list mostly the same packages: the most any lists.
            packages = max(packages, each[1])
        return SbomAnswer(tuple(queries), packages, tuple(p for _, p, _ in attesting))

    async def _manifest(self, ref: ImageReference, digest: str, on_hub: bool) -> Manifest:
        if on_hub:
            self.pulls += 1
        return await self._registry.manifest(ref, digest)

    async def _sbom_of(
        self, ref: ImageReference, attestation: str, subject: str, on_hub: bool
    ) -> tuple[tuple[PackageQuery, ...], int] | Unreadable:
        """The packages of the SBOM layers of one attestation manifest, or why none."""
        try:
            manifest = await self._manifest(ref, attestation, on_hub)
        except NotFound:
            return Unreadable(
                "the index names an attestation manifest the registry does not have", False
            )
        layers = [
            layer
            for layer in _list(manifest.document.get("layers"))
            if isinstance(layer, dict) and layer.get("mediaType") == IN_TOTO_LAYER
        ]
        annotated = [layer for layer in layers if _predicate(layer) is not None]
        sboms = [layer for layer in annotated if predicate_kind(_predicate(layer) or "")]
        # The annotation "may be set" (attestation-storage.md): without it, read them all.
        candidates = sboms if annotated else layers
        if not candidates:
            return Unreadable("the attestation holds no SBOM (SPDX or CycloneDX)")
        queries: dict[PackageQuery, None] = {}
        packages = 0
        read = 0
        for layer in candidates:
            digest, size = layer.get("digest"), layer.get("size")
            if not isinstance(digest, str):
                return Unreadable("an attestation layer has no digest")
            if isinstance(size, int) and size > MAX_SBOM_BYTES:
                mib = MAX_SBOM_BYTES // (1024 * 1024)
                return Unreadable(
                    f"the SBOM is {size / 1e6:.1f} MB, more than basepin reads ({mib} MiB)"
                )
            # A size the descriptor leaves out counts as the most that is read.
            async with self._budget.held(size if isinstance(size, int) else MAX_SBOM_BYTES):
                data = await self._registry.blob(ref, digest, limit=MAX_SBOM_BYTES)
                try:
                    sbom = read_statement(data)
                except SbomError as exc:
                    if annotated:
                        return Unreadable(str(exc))
                    continue  # an unannotated layer that is provenance, not an SBOM
            # BuildKit names the platform manifest; Docker Official Images' SBOMs may name none.
            if sbom.subjects and subject not in sbom.subjects:
                return Unreadable("the SBOM describes another image than the index says")
            queries.update(dict.fromkeys(sbom.queries))
            packages += sbom.packages
            read += 1
        if not read:
            return Unreadable("the attestation holds no SBOM (SPDX or CycloneDX)")
        return tuple(queries), packages


class _Budget:
    """Bytes that may be read and parsed at once; a holder waits until its share is free."""

    def __init__(self, total: int) -> None:
        self._free = total
        self._total = total
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def held(self, size: int) -> AsyncIterator[None]:
        size = max(1, min(size, self._total))
        async with self._changed:
            await self._changed.wait_for(lambda: self._free >= size)
            self._free -= size
        try:
            yield
        finally:
            async with self._changed:
                self._free += size
                self._changed.notify_all()


class Unreadable(NamedTuple):
    """Why an attestation gave no SBOM; `lasting` as in SbomAnswer."""

    reason: str
    lasting: bool = True


def _predicate(layer: Mapping[str, Any]) -> str | None:
    annotations = layer.get("annotations")
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(PREDICATE_ANNOTATION)
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _platform_text(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    os_name, arch, variant = value.get("os"), value.get("architecture"), value.get("variant")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        return None
    return (
        f"{os_name}/{arch}/{variant}"
        if isinstance(variant, str) and variant
        else f"{os_name}/{arch}"
    )


def _is_attestation(entry: Mapping[str, Any]) -> bool:
    annotations = entry.get("annotations")
    return isinstance(annotations, dict) and annotations.get(REFERENCE_TYPE) == ATTESTATION_TYPE


def _children(index: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(digest, platform) of an index's platform manifests, attestations left out."""
    found = []
    for entry in _list(index.get("manifests")):
        if not isinstance(entry, dict) or _is_attestation(entry):
            continue
        platform, digest = _platform_text(entry.get("platform")), entry.get("digest")
        if platform and platform != "unknown/unknown" and isinstance(digest, str):
            found.append((digest, platform))
    return found


def _chosen(index: Mapping[str, Any], platforms: Sequence[str]) -> list[tuple[str, str]]:
    """The platform manifests whose SBOMs are read: one per wanted platform the index has
    (linux/arm64 is covered by linux/arm64/v8); none wanted: linux/amd64, else the first."""
    children = _children(index)
    if not platforms:
        preferred = [c for c in children if _covers(c[1], DEFAULT_PLATFORM)]
        return (preferred or children)[:1]
    chosen: list[tuple[str, str]] = []
    for wanted in platforms:
        match = next((c for c in children if _covers(c[1], wanted)), None)
        if match is not None and match not in chosen:
            chosen.append(match)
    return chosen


def _covers(have: str, wanted: str) -> bool:
    return have == wanted or have.startswith(wanted + "/")


def _platform_of(index: Mapping[str, Any], digest: str) -> str | None:
    return next((platform for child, platform in _children(index) if child == digest), None)


def _attestation_of(index: Mapping[str, Any], child: str) -> str | None:
    """The digest of the attestation manifest the index attaches to `child`."""
    for entry in _list(index.get("manifests")):
        if not isinstance(entry, dict) or not _is_attestation(entry):
            continue
        annotations = entry["annotations"]
        digest = entry.get("digest")
        if annotations.get(REFERENCE_DIGEST) == child and isinstance(digest, str):
            return digest
    return None
