"""The Docker Hub API as the second witness in lookups: asked once a tag, held to the registry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from basepin.model import DigestInfo
from basepin.reference import ImageReference
from basepin.registry.cache import Cache, CachedTag
from basepin.registry.errors import RegistryError, Unverified
from basepin.registry.hub import HubClient, HubTag, hub_confirms
from basepin.registry.oci import RegistryClient
from basepin.registry.pins import ResolveOptions


class HubAnswers:
    """What the Docker Hub API says of the docker.io tags a run looks up: each asked once,
    used only where it is about the digest the registry answers; what it does not confirm is
    confirmed by a manifest pull, within the run's budget. After one failure it is not asked
    again; why it told nothing of a tag is kept for the rules (`trouble`)."""

    def __init__(
        self,
        registry: RegistryClient,
        client: HubClient | None,
        cache: Cache,
        options: ResolveOptions,
        warn: Callable[[ImageReference, str], None],
    ) -> None:
        self.registry = registry
        self.client = client
        self.cache = cache
        self.options = options
        # A warning for the user, placed as the reference it is about.
        self._warn = warn
        self._tags: dict[str, asyncio.Task[HubTag | None]] = {}
        # Why the Hub API told nothing usable about a tag (by `hub_key`).
        self.trouble: dict[str, str] = {}
        # Set when a Hub API question failed: the rest are not asked.
        self.failed: str | None = None
        # Docker Hub manifest pulls spent on confirming digests the Hub API did not.
        self.pulls_spent = 0

    async def dates(
        self, ref: ImageReference, digest: str, size: int | None
    ) -> tuple[datetime | None, int | None, bool]:
        """The push date and size of a docker.io tag asked of a mirror, from the Hub API when
        its answer is about the same digest; and whether nothing wanted is missing."""
        if not ref.is_docker_hub or not self.options.want_facts:
            return None, size, True
        view = self.view(ref, await self.tag(ref), digest)
        if view is None:
            return None, size, self.client is None
        return view.image_pushed(), view.size_for(self.options.size_platform), True

    async def tag_digest(self, ref: ImageReference) -> CachedTag:
        """A Docker Hub tag's digest from a HEAD (no pull quota), with the Hub API's dates.

        The HEAD is confirmed when the Hub API, a second and independent answer, names the
        same digest for the tag. A digest other than the one `ref` pins (so one that may be
        written) and that the Hub API does not confirm is confirmed by hashing the manifest
        (a pull, within the run's budget), or the lookup fails as unverified.
        """
        tag = ref.effective_tag or ""
        asking_hub = asyncio.ensure_future(self.tag(ref))  # both questions at once
        head = await self.registry.head_digest(ref)
        hub_tag = await asking_hub
        agrees = hub_tag is not None and hub_confirms(hub_tag, head.digest)
        verified = head.verified or agrees
        if not verified and head.digest != ref.digest:
            await self._pull_to_confirm(ref, head.digest, hub_tag)
            verified = True
        view = self.view(ref, hub_tag, head.digest)
        pushed = view.image_pushed() if view else None
        size = view.size_for(self.options.size_platform) if view else None
        answer = CachedTag(head.digest, head.media_type, pushed, size, verified)
        if view is not None:  # without the Hub's dates it is not worth keeping
            self.cache.put_tag(ref.registry, ref.repository, tag, answer)
        return answer

    async def _pull_to_confirm(
        self, ref: ImageReference, digest: str, hub_tag: HubTag | None
    ) -> None:
        """Hash the manifest `digest` names (one Docker Hub pull), or raise Unverified when
        the run's pulls for this are spent."""
        if hub_tag is None:
            why = "the Docker Hub API gave no answer for the tag"
        elif hub_tag.digest:
            why = f"the Docker Hub API names {hub_tag.digest} for the tag"
        else:
            why = "the Docker Hub API names no digest for the tag"
        if self.pulls_spent >= self.options.hub_verify_pulls:
            raise Unverified(
                f"{ref.registry}/{ref.repository}:{ref.effective_tag}: the registry answers "
                f"{digest} and {why}; not confirmed, so not written (the "
                f"{self.options.hub_verify_pulls} manifest pulls a run may spend to confirm "
                "digests are spent)",
                registry=ref.registry,
                repository=ref.repository,
            )
        self.pulls_spent += 1
        await self.registry.manifest(ref, digest)

    async def tag(self, ref: ImageReference) -> HubTag | None:
        """The Hub API's answer for a docker.io tag (dates, sizes, platforms, its digest);
        None elsewhere, and when it told nothing (the reason is kept for the rules)."""
        if self.client is None or not ref.is_docker_hub or ref.effective_tag is None:
            return None
        key = hub_key(ref)
        if key not in self._tags:
            self._tags[key] = asyncio.ensure_future(self._ask(ref))
        # Shielded: another lookup may wait for the same answer after this one gave up.
        return await asyncio.shield(self._tags[key])

    def view(self, ref: ImageReference, hub_tag: HubTag | None, digest: str) -> HubTag | None:
        """`hub_tag` where its dates, sizes and platforms are those of `digest`: it names that
        digest, or none (many multi-platform tags: their dates still count). An answer about
        another digest (the tag moved between the two answers) is set aside, and why kept."""
        if hub_tag is not None and hub_tag.digest not in (None, digest):
            self.trouble.setdefault(
                hub_key(ref),
                f"Docker Hub API describes {ref.effective_tag} as {_short(hub_tag.digest)}, not"
                f" the registry's {_short(digest)} (the tag moved between the answers)",
            )
            return None
        return hub_tag

    async def _ask(self, ref: ImageReference) -> HubTag | None:
        assert self.client is not None
        key = hub_key(ref)
        if self.failed is not None:
            self.trouble[key] = self.failed
            return None
        tag = ref.effective_tag or ""
        try:
            found = await self.client.tag(ref.repository, tag)
        except RegistryError as exc:
            self.trouble[key] = str(exc)
            if self.failed is None:
                self.failed = f"Docker Hub API not asked after an earlier failure: {exc}"
                # Which tag met the failure first depends on timing: the warning names none.
                asked = f"{ref.repository}:{tag}"
                reason = str(exc).replace(f" for {asked}", "").replace(f" to {asked}", "")
                self._warn(
                    ref,
                    f"Docker Hub API: {reason}; push dates and sizes are unknown this run",
                )
            return None
        if found is None:
            self.trouble[key] = f"Docker Hub API has no tag {ref.effective_tag} in {ref.repository}"
        return found


def hub_key(ref: ImageReference) -> str:
    return f"{ref.repository}:{ref.effective_tag}"


def _short(digest: str) -> str:
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}"


def hub_facts(digest: str, hub_tag: HubTag | None) -> DigestInfo:
    """What `digest` is per the Hub's answer for its tag (already checked to be about it)."""
    if hub_tag is None:
        return DigestInfo(digest, "")
    images = list(hub_tag.platform_images)
    children = tuple(image.digest for image in images if image.digest)
    is_index = len(images) > 1 or (hub_tag.media_type or "").endswith(
        ("index.v1+json", "list.v2+json")
    )
    return DigestInfo(
        digest,
        hub_tag.media_type or "",
        tuple(image.platform for image in images),
        is_index=is_index,
        children=children if len(children) == len(images) else (),
        created=None,
        size=None,  # per platform: in the tag's answer (Resolution.size)
    )
