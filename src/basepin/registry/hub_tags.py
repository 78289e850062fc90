"""What the Docker Hub API says about tags: its paths, and its answers' shapes read
defensively.

The shapes follow the current API reference (schemas `tag`, `image`, `paginated_tags`) and
answers recorded from the live Hub, which carry more than the reference lists: the index
`digest` (absent on many multi-platform tags, whose digests are then only in `images[]`),
`media_type`, `content_type` and `tag_status` (`active`, `inactive`, `stale`). `full_size`
is 0 on many multi-platform tags: a size is only ever taken from `images[]`, per platform.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from basepin.digests import digest_problem
from basepin.errors import InvalidReference
from basepin.model import DEFAULT_PLATFORM, Platform, TagInfo

logger = logging.getLogger("basepin.registry.hub")

# Before this, a date is a placeholder (0001-01-01, the reproducible-build epochs 1970 and
# 1980), not an age: unknown, as in config blobs.
_FIRST_REAL_YEAR = 1981
# Hub writes 0 to 9 fraction digits; Python before 3.11 reads only 3 or 6.
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


@dataclass(frozen=True)
class HubImage:
    """One platform image of a tag, from the tag's `images[]`."""

    os: str
    architecture: str
    variant: str | None = None
    digest: str | None = None
    size: int | None = None
    status: str | None = None
    pushed: datetime | None = None

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)

    def matches(self, platform: str) -> bool:
        """Whether this is the image for `platform` (`linux/arm64` is `linux/arm64/v8`)."""
        own = str(self.platform)
        return own == platform or own.startswith(platform + "/")


@dataclass(frozen=True)
class HubTag:
    name: str
    # The index (manifest list) digest, or the manifest's for a single-platform tag; None
    # when the answer has none (many multi-platform tags) or a malformed one.
    digest: str | None
    # `tag_last_pushed`, else `last_updated`: when the tag was last pushed.
    pushed: datetime | None
    # `full_size`; None when 0 or absent (multi-platform tags carry 0): not a size then.
    size: int | None
    media_type: str | None
    images: tuple[HubImage, ...] = ()
    # `tag_status`: "active"; "inactive" or "stale" when not pushed or pulled for a while.
    status: str | None = None
    # `content_type`: "image", or another kind of artifact.
    content_type: str | None = None

    @property
    def candidate(self) -> bool:
        """Whether the tag may be proposed (`outdated`, naming `latest`): an active image.
        Older answers lack both fields; a missing one says nothing against the tag."""
        return self.status in (None, "active") and self.content_type in (None, "image")

    @property
    def platform_images(self) -> tuple[HubImage, ...]:
        """`images[]` without attestation entries (`unknown/unknown`)."""
        return tuple(image for image in self.images if image.os != "unknown")

    def image_pushed(self) -> datetime | None:
        """When the image content was pushed: the newest `last_pushed` of its platform images,
        else the tag's own push date. A tag pushed again yesterday with a 400-day-old image
        is 400 days old."""
        pushed = [image.pushed for image in self.platform_images if image.pushed is not None]
        return max(pushed) if pushed else self.pushed

    def size_for(self, platform: str) -> int | None:
        """Compressed size of the image for `platform` (`os/arch[/variant]`); None if unknown."""
        for image in self.platform_images:
            if image.matches(platform):
                return image.size
        return None

    def info(self, platform: str = DEFAULT_PLATFORM) -> TagInfo:
        pushed = self.image_pushed()
        source = None if pushed is None else "hub"
        return TagInfo(
            self.name, self.digest, pushed, self.size_for(platform), pushed_source=source
        )


@dataclass(frozen=True)
class HubTagList:
    """A repository's tags as far as they were read."""

    tags: tuple[HubTag, ...]
    # Why the list does not reach its end (a page bound, a next link not followed, a page
    # that could not be read); None when it does.
    cut: str | None = None
    pages: int = 0

    @property
    def complete(self) -> bool:
        return self.cut is None


def hub_confirms(tag: HubTag, digest: str) -> bool:
    """Whether the Hub API's view of a tag names `digest` as what the tag points to: its
    index digest, or the one image of a single-platform tag that records none."""
    if tag.digest:
        return tag.digest == digest
    images = tag.platform_images
    return len(images) == 1 and images[0].digest == digest


def repository_path(repository: str) -> str:
    """`namespace/name` as the Hub API spells it; official images live under `library/`."""
    path = repository.removeprefix("docker.io/").removeprefix("index.docker.io/")
    if "/" not in path:
        path = f"library/{path}"
    namespace, _, name = path.partition("/")
    if not namespace or not name or "/" in name:
        raise InvalidReference(
            f"Docker Hub repositories are named namespace/name; {repository!r} is not"
        )
    return path


def endpoint_paths(path: str, tail: str) -> tuple[str, str]:
    """The documented path of a repository's tags (and `tail` below it), and the older one."""
    namespace, name = (quote(part, safe="") for part in path.split("/"))
    return (
        f"/v2/namespaces/{namespace}/repositories/{name}/tags{tail}",
        f"/v2/repositories/{namespace}/{name}/tags{tail}",
    )


def says_not_found(body: bytes) -> bool:
    """Whether a 404's body is the Hub's answer that a repository or tag does not exist
    (`{"message": "httperror 404: tag 'x' not found", "errinfo": {...}}`), not a 404 for a
    path the server does not know (`{"message": "404: Page Not Found"}`, an HTML page)."""
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    message = data.get("message")
    said = isinstance(message, str) and message.lower().startswith("httperror 404")
    return said or isinstance(data.get("errinfo"), dict)


def tag_from(data: object) -> HubTag | None:
    """A tag object of the API; None when it has no name."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return None
    name: str = data["name"]
    images = data.get("images")
    return HubTag(
        name=name,
        digest=_digest(data.get("digest"), f"tag {name}"),
        pushed=parse_time(data.get("tag_last_pushed")) or parse_time(data.get("last_updated")),
        size=_size(data.get("full_size")),
        media_type=_text(data.get("media_type")),
        images=tuple(
            _image_from(image, name)
            for image in (images if isinstance(images, list) else ())
            if isinstance(image, dict)
        ),
        status=_text(data.get("tag_status")),
        content_type=_text(data.get("content_type")),
    )


def _image_from(data: Mapping[str, object], tag: str) -> HubImage:
    return HubImage(
        os=_text(data.get("os")) or "unknown",
        architecture=_text(data.get("architecture")) or "unknown",
        variant=_text(data.get("variant")),
        digest=_digest(data.get("digest"), f"an image of tag {tag}"),
        size=_size(data.get("size")),
        status=_text(data.get("status")),
        pushed=parse_time(data.get("last_pushed")),
    )


def _digest(value: object, where: str) -> str | None:
    """`value` where it is a digest basepin accepts (`sha256:` + 64 or `sha512:` + 128
    lowercase hex); anything else is treated as absent, never passed on."""
    if value is None or value == "":
        return None
    problem = digest_problem(value)
    if problem is None:
        assert isinstance(value, str)
        return value
    logger.debug(
        "Docker Hub API: %s has a malformed digest %.80r (%s); ignored", where, value, problem
    )
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(value: object) -> int | None:
    """A size in bytes; 0 is what Hub writes when it does not know, so it is None too."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def parse_time(value: object) -> datetime | None:
    """A Hub date, or None when absent, unreadable or a placeholder before 1981."""
    if not isinstance(value, str):
        return None
    match = _ISO_TIME.match(value.strip())
    if match is None:
        return None
    seconds, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else f"{zone[:3]}:{zone[-2:]}"
    try:
        parsed = datetime.fromisoformat(f"{seconds}.{micros}{offset}")
    except ValueError:
        return None
    return None if parsed.year < _FIRST_REAL_YEAR else parsed
