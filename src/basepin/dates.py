"""Image dates with where they come from, and the cooldown before a new image is proposed.

A date is a `Dated(when, source)`: "hub" (the Docker Hub API's push date), "annotation" (the
`org.opencontainers.image.created` annotation of the index or manifest) or "config" (the
image config's `created`). Messages name the source; the JSON report carries it.

The cooldown (`min-release-age`, days) keeps fixes, bumps, suggestions and the naming of
`latest` from proposing a digest or tag younger than that: a digest pushed an hour ago may be
the one a compromised pipeline pushed. A candidate whose date is unknown is withheld unless
`min-release-age-unknown = "allow"`. The finding stays, saying when the candidate is eligible.
"""

from __future__ import annotations

from datetime import timedelta

from basepin.model import Dated

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from basepin.config import Config
    from basepin.model import Resolution, TagInfo
    from basepin.reference import ImageReference

# How each source's date reads in a message: its verb and its source.
_WORDING = {
    "hub": ("pushed", "per Docker Hub"),
    "annotation": ("built", "per its org.opencontainers.image.created annotation"),
    "config": ("built", "per the image config"),
}


def describe(dated: Dated, *, time: bool = False) -> str:
    """`pushed 2026-11-20 per Docker Hub`, `built 2026-07-01 per the image config`."""
    verb, source = _WORDING.get(dated.source, ("dated", f"per {dated.source}"))
    when = dated.when.strftime("%Y-%m-%d %H:%M" if time else "%Y-%m-%d")
    return f"{verb} {when} {source}"


def current_date(res: Resolution) -> Dated | None:
    """When the image the tag points to now was pushed (Docker Hub) or built."""
    if res.pushed is not None:
        return Dated(res.pushed, "hub")
    if res.current is not None and res.current.created is not None:
        return Dated(res.current.created, res.current.created_source or "config")
    return None


def pinned_date(res: Resolution) -> Dated | None:
    """When the pinned image was built, where the registry told it."""
    if res.pinned is not None and res.pinned.created is not None:
        return Dated(res.pinned.created, res.pinned.created_source or "config")
    return None


def image_date(ref: ImageReference, res: Resolution) -> Dated | None:
    """The date of the image the reference builds from: the pinned one where it pins another
    digest than the tag's, else the tag's."""
    pinned_other = ref.digest is not None and res.current and ref.digest != res.current.digest
    # A pin of one platform's manifest in the current index is as old as that index's content
    # (Docker Hub dates the index by its newest platform image); a stale pin is not.
    if pinned_other and res.pinned_platform is None:
        return pinned_date(res)
    return current_date(res)


def tag_date(tag: TagInfo) -> Dated | None:
    if tag.pushed is None:
        return None
    return Dated(tag.pushed, tag.pushed_source or "hub")


def withheld(dated: Dated | None, config: Config, now: datetime) -> str | None:
    """Why a candidate of this date is not proposed yet (`pushed 2026-12-05 14:02 per Docker
    Hub, eligible from 2026-12-08`); None when it may be."""
    days = config.min_release_age
    if days <= 0:
        return None
    if dated is None:
        if config.min_release_age_unknown == "allow":
            return None
        return (
            f"has no known date, so min-release-age ({days} days) withholds it "
            '(min-release-age-unknown = "allow" lets it through)'
        )
    eligible = dated.when + timedelta(days=days)
    if now >= eligible:
        return None
    return f"{describe(dated, time=True)}, eligible from {eligible:%Y-%m-%d}"
