"""OCI Distribution client: what a tag points to, what a digest is, which tags exist.

    http = new_http_client()
    client = RegistryClient(http, CredentialStore.from_environment(), Endpoints(mirrors))
    await client.prefetch_tokens("docker.io", ["library/python", "library/node"])
    head = await client.head_digest(parse_reference("python:3.12"))
    info = await client.digest_info(parse_reference("python:3.12"), head.digest)

Every digest of content basepin reads is checked against the bytes received; a mismatch is a
ProtocolError, never accepted. Answers are errors from `registry.errors` (never httpx's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import httpx

from basepin.model import DigestInfo, Platform
from basepin.reference import ImageReference
from basepin.registry.errors import (
    BlobNotFound,
    ManifestNotFound,
    ProtocolError,
    RepositoryNotFound,
)
from basepin.registry.http import (
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_TAG_PAGE_BYTES,
    Reply,
    joined_url,
    same_origin,
)
from basepin.registry.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    IMAGE_TYPES,
    INDEX_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    annotated_created,
    checked_digest,
    choose_child,
    dated,
    descriptor,
    header_media_type,
    index_children,
    json_object,
    malformed,
    parse_created,
    parsed_manifest,
    platform_of,
    reference_text,
    verified_digest,
)
from basepin.registry.session import RegistrySession

# One header with all four: without the index types a registry answers with a platform child
# (another digest) or 404 for an OCI index; without any, with schema 1.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
MAX_TAG_PAGES = 1000
# Tags of one repository held at most; a longer list is cut, and said to be.
MAX_TAGS = 100_000
_LINK = re.compile(r"<([^>]*)>([^<]*)")


@dataclass(frozen=True)
class ManifestHead:
    """What a tag points to now, from one HEAD (or GET where HEAD says nothing)."""

    digest: str
    media_type: str | None
    size: int | None
    # `ratelimit-remaining` of the answer (Docker Hub), where sent.
    rate_limit_remaining: int | None = None
    # True when the digest is the hash of bytes received (a GET), not a header's claim.
    verified: bool = False


@dataclass(frozen=True)
class TagList:
    """Tags in the registry's order; `complete` is False when paging stopped early (`note`)."""

    tags: tuple[str, ...]
    complete: bool = True
    note: str | None = None


class RegistryClient(RegistrySession):
    """Asks registries about references; one per run, sharing one `httpx.AsyncClient`.

    Safe to use from concurrent tasks: tokens, credentials and endpoint probes are fetched
    once per key.
    """

    async def head_digest(self, ref: ImageReference) -> ManifestHead:
        """The digest the reference's tag points to (its digest, for a digest-only reference).

        For a multi-platform image this is the index digest, never a platform child's.
        """
        target = ref.effective_tag or ref.digest or ""
        what = reference_text(ref, target)
        path = f"/v2/{ref.repository}/manifests/{target}"
        reply = await self._request(
            "HEAD", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        header = reply.headers.get("docker-content-digest")
        if reply.status in (404, 405) or (reply.status == 200 and not header):
            # A HEAD with no digest (some proxies) or none at all: hash what a GET sends.
            reply = await self._request(
                "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
            )
            self._check(reply, ref, what, _subject(target), ManifestNotFound)
            digest = verified_digest(reply, None, ref, what)
            return ManifestHead(
                digest, header_media_type(reply), len(reply.body), reply.rate_limit_remaining, True
            )
        self._check(reply, ref, what, _subject(target), ManifestNotFound)
        digest = checked_digest(header or "", ref, what)
        if ref.digest and target == ref.digest and digest != ref.digest:
            raise ProtocolError(
                f"{what}: the registry reports digest {digest} for it",
                registry=ref.registry,
                repository=ref.repository,
            )
        length = reply.headers.get("content-length", "")
        return ManifestHead(
            digest,
            header_media_type(reply),
            int(length) if length.isdigit() else None,
            reply.rate_limit_remaining,
        )

    async def digest_info(
        self, ref: ImageReference, digest: str, *, platform: Platform | None = None
    ) -> DigestInfo:
        """Facts of a manifest digest: type, platforms, build date and size.

        For an index, the platforms are its children's (attestations left out); the date and
        size are those of the child for `platform`, else linux/amd64, else the first child.
        """
        manifest = await self._manifest(ref, digest)
        return await self.facts_of(ref, manifest, platform=platform)

    async def tag_manifest(self, ref: ImageReference) -> tuple[ManifestHead, Manifest]:
        """What the tag points to, with the manifest itself: one GET where `head_digest` and
        `digest_info` take a HEAD and a GET. Not for Docker Hub, where a manifest GET counts
        against the pull limit and a HEAD does not."""
        target = ref.effective_tag or ref.digest or ""
        what = reference_text(ref, target)
        path = f"/v2/{ref.repository}/manifests/{target}"
        reply = await self._request(
            "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        self._check(reply, ref, what, _subject(target), ManifestNotFound)
        digest = verified_digest(reply, ref.digest if target == ref.digest else None, ref, what)
        manifest = parsed_manifest(reply, digest, ref, what)
        head = ManifestHead(
            digest, manifest.media_type, len(reply.body), reply.rate_limit_remaining, True
        )
        return head, manifest

    async def manifest(self, ref: ImageReference, digest: str) -> Manifest:
        """The manifest `digest` names, its bytes hashed to that digest (on Docker Hub this
        costs a pull)."""
        return await self._manifest(ref, digest)

    def outline(self, ref: ImageReference, manifest: Manifest) -> DigestInfo:
        """What a manifest tells of itself, without further requests: its type and, for an
        index, its platforms and their manifests (no dates or sizes)."""
        if manifest.media_type not in INDEX_TYPES:
            return DigestInfo(manifest.digest, manifest.media_type)
        children = index_children(manifest, ref)
        return DigestInfo(
            manifest.digest,
            manifest.media_type,
            tuple(platform for _, platform in children),
            is_index=True,
            children=tuple(digest for digest, _ in children),
        )

    async def facts_of(
        self, ref: ImageReference, manifest: Manifest, *, platform: Platform | None = None
    ) -> DigestInfo:
        """Facts of a manifest already received, as `digest_info` gives them. The build date
        is the `org.opencontainers.image.created` annotation of the index or manifest where
        it has one, else the image config's `created`."""
        if manifest.media_type not in INDEX_TYPES:
            built, total, own_platform = await self._image_facts(ref, manifest)
            created, source = dated(annotated_created(manifest.document), built)
            return DigestInfo(
                manifest.digest,
                manifest.media_type,
                (own_platform,) if own_platform else (),
                is_index=False,
                created=created,
                size=total,
                created_source=source,
            )
        children = index_children(manifest, ref)
        platforms = tuple(child_platform for _, child_platform in children)
        annotated = annotated_created(manifest.document)
        child_built: datetime | None = None
        size: int | None = None
        chosen = choose_child(children, platform)
        if chosen is not None:
            child = await self._manifest(ref, chosen)
            if child.media_type in IMAGE_TYPES:
                child_built, size, _ = await self._image_facts(ref, child)
                annotated = annotated or annotated_created(child.document)
        created, source = dated(annotated, child_built)
        return DigestInfo(
            manifest.digest,
            manifest.media_type,
            platforms,
            is_index=True,
            children=tuple(child_digest for child_digest, _ in children),
            created=created,
            size=size,
            created_source=source,
        )

    async def list_tags(
        self, ref: ImageReference, *, page_size: int = 1000, limit: int = MAX_TAGS
    ) -> TagList:
        """The repository's tags, following `Link: <...>; rel="next"` on the same origin, up
        to `limit` of them (memory stays bounded whatever the registry sends).

        A page shorter than `page_size` does not end the list; only a missing next link does.
        """
        what = f"{ref.registry}/{ref.repository} tag list"
        origin = await self._origin(ref.registry)
        url = httpx.URL(f"{origin}/v2/{ref.repository}/tags/list").copy_merge_params(
            {"n": page_size}
        )
        tags: list[str] = []
        seen: set[str] = set()
        while True:
            seen.add(str(url))
            reply = await self._request("GET", ref, url, what=what, limit=MAX_TAG_PAGE_BYTES)
            self._check(reply, ref, what, "tag list", RepositoryNotFound)
            tags += _page_tags(reply, ref, what)
            if len(tags) >= limit:
                return TagList(tuple(tags[:limit]), False, f"stopped after {limit} tags")
            link = _next_link(reply.headers)
            if link is None:
                return TagList(tuple(tags))
            following = joined_url(reply.url, link, f"{what}: the next page", ref.registry)
            stop = None
            if not same_origin(following, reply.url):
                stop = f"the next page is on another host ({following.host}); not followed"
            elif str(following) in seen or len(seen) >= MAX_TAG_PAGES:
                stop = "the registry's pages do not end; stopped"
            if stop is not None:
                return TagList(tuple(tags), False, stop)
            url = following

    # -- manifests and blobs -------------------------------------------------------------------

    async def _manifest(self, ref: ImageReference, digest: str) -> Manifest:
        what = reference_text(ref, digest)
        checked_digest(digest, ref, what)
        path = f"/v2/{ref.repository}/manifests/{digest}"
        reply = await self._request(
            "GET", ref, path, accept=MANIFEST_ACCEPT, what=what, limit=MAX_MANIFEST_BYTES
        )
        self._check(reply, ref, what, _subject(digest), ManifestNotFound)
        verified_digest(reply, digest, ref, what)
        return parsed_manifest(reply, digest, ref, what)

    async def _image_facts(
        self, ref: ImageReference, manifest: Manifest
    ) -> tuple[datetime | None, int | None, Platform | None]:
        """Build date, total size and platform of a single-platform manifest."""
        config_digest, config_size = descriptor(manifest.document.get("config"), ref, manifest)
        layers = manifest.document.get("layers") or []
        if not isinstance(layers, list):
            raise malformed(ref, manifest, "'layers' is not a list")
        layer_sizes = [descriptor(layer, ref, manifest)[1] for layer in layers]
        config = json_object(
            await self._blob(ref, config_digest), ref, reference_text(ref, config_digest)
        )
        size = len(manifest.body) + config_size + sum(layer_sizes)
        return parse_created(config.get("created")), size, platform_of(config)

    async def blob(self, ref: ImageReference, digest: str, *, limit: int) -> bytes:
        """The blob `digest` names, read to at most `limit` bytes and hashed to its digest
        (blob GETs do not count against Docker Hub's pull limit)."""
        checked_digest(digest, ref, f"{ref.registry}/{ref.repository} blob {digest}")
        return await self._blob(ref, digest, limit=limit)

    async def _blob(
        self, ref: ImageReference, digest: str, *, limit: int = MAX_CONFIG_BYTES
    ) -> bytes:
        what = f"{ref.registry}/{ref.repository} blob {digest}"
        path = f"/v2/{ref.repository}/blobs/{digest}"
        reply = await self._request("GET", ref, path, what=what, limit=limit)
        self._check(reply, ref, what, f"blob {digest}", BlobNotFound)
        verified_digest(reply, digest, ref, what)
        return reply.body


# -- pure helpers ------------------------------------------------------------------------------


def _subject(target: str) -> str:
    return f"digest {target}" if ":" in target else f"tag {target!r}"


def _page_tags(reply: Reply, ref: ImageReference, what: str) -> list[str]:
    tags = json_object(reply.body, ref, what).get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ProtocolError(
            f"{what}: 'tags' is not a list of names",
            registry=ref.registry,
            repository=ref.repository,
        )
    return tags


def _next_link(headers: httpx.Headers) -> str | None:
    """The target of `Link: <...>; rel="next"`, where there is one."""
    for value in headers.get_list("link"):
        for target, params in _LINK.findall(value):
            for param in params.split(";"):
                name, _, rel = param.partition("=")
                if name.strip().lower() == "rel" and "next" in rel.strip(" \t\"',").split():
                    return str(target)
    return None
