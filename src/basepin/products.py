"""The product versions an image reference carries, for the `eol` rules.

`python:3.8-slim-bullseye` carries Python 3.8 (the image's own product, its tag's version) and
Debian 11 (the OS release its suffix names); `gcr.io/distroless/base-debian12` carries Debian
12 (its name). What counts is data (`basepin.product_table`); an image the table does not know
carries no product of its own. A version is matched against a product's release cycles only
once endoflife.date's data is at hand (`cycle_of`): `postgres:9.6.24` is cycle 9.6, `12.17`
cycle 12, and a tag that floats over a series (`python:3`) is its newest cycle.
"""

from __future__ import annotations

import re

from basepin.product_table import (
    CODENAMES,
    IMAGE_CODENAMES,
    JAVA_DEFAULTS,
    JAVA_VENDORS,
    OFFICIAL_IMAGES,
    OS_PRODUCTS,
    SPACED_WORDS,
    VENDOR_IMAGES,
    VERSIONED_WORDS,
)
from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from basepin.model import EolCycle, Lifecycle
    from basepin.reference import ImageReference

_LEADING_VERSION = re.compile(r"v?([0-9]+(?:\.[0-9]+)*)")
_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_ATTACHED = re.compile(r"([a-z]+)([0-9]+(?:\.[0-9]+)*)")
_JAVA = "java"


class ProductVersion(NamedTuple):
    """A product an image carries, and which of its versions."""

    product: str  # endoflife.date's name
    # The version numbers the reference names (`3.8.18` -> (3, 8, 18)); None when `cycle`
    # names the cycle itself (a code name).
    release: tuple[int, ...] | None
    cycle: str | None = None
    # Where the reference names it: "image" (the image's own product and its tag's version),
    # "tag" (a word in the tag) or "name" (a word in the image's name).
    where: str = "image"


def products_of(ref: ImageReference) -> tuple[ProductVersion, ...]:
    """The product versions `ref` carries, one per product, the image's own first."""
    found: dict[str, ProductVersion] = {}
    image = image_product(ref)
    tag = ref.tag or ""
    tokens = tag.lower().split("-") if tag and tag != "latest" else []
    if tokens:
        leading = _LEADING_VERSION.match(tokens[0])
        own = IMAGE_CODENAMES.get(_official_name(ref.repository) or "", {})
        if leading is not None:
            if image is not None:
                found[image] = ProductVersion(image, _numbers(leading.group(1)))
            tokens = tokens[1:]
        elif image is not None and tokens[0] in own:
            found[image] = ProductVersion(image, None, own[tokens[0]])
            tokens = tokens[1:]
    for version in _words(tokens, "tag", _java_default(ref)):
        found.setdefault(version.product, version)
    for version in _name_words(ref.repository):
        found.setdefault(version.product, version)
    return tuple(found.values())


def product_names(refs: Iterable[ImageReference]) -> set[str]:
    """Every product `refs` carry, as endoflife.date names them."""
    return {version.product for ref in refs for version in products_of(ref)}


def image_product(ref: ImageReference) -> str | None:
    """The image's own product: a Docker Official Image (or its mirror under `library/`), or
    a vendor image the table knows."""
    vendor = VENDOR_IMAGES.get(f"{ref.registry}/{ref.repository}")
    if vendor is not None:
        return vendor
    name = _official_name(ref.repository)
    return None if name is None else OFFICIAL_IMAGES.get(name)


def _official_name(repository: str) -> str | None:
    namespace, _, name = repository.rpartition("/")
    if namespace == "library" or namespace.endswith("/library"):
        return name
    return None


def _java_default(ref: ImageReference) -> str | None:
    name = _official_name(ref.repository)
    return None if name is None else JAVA_DEFAULTS.get(name)


def _words(tokens: list[str], where: str, java_default: str | None) -> Iterator[ProductVersion]:
    vendor = _java_vendor(tokens, java_default)
    for index, token in enumerate(tokens):
        codename = CODENAMES.get(token)
        if codename is not None:
            yield ProductVersion(codename[0], None, codename[1], where)
            continue
        word, numbers = token, ""
        attached = _ATTACHED.fullmatch(token)
        if attached is not None:
            word, numbers = attached.group(1), attached.group(2)
        elif token in SPACED_WORDS and index + 1 < len(tokens):
            following = tokens[index + 1]
            numbers = following if _NUMBERS.fullmatch(following) else ""
        product = VERSIONED_WORDS.get(word)
        if product is None or not numbers:
            continue
        if product == _JAVA:
            if not vendor:
                continue
            product = vendor
        yield ProductVersion(product, _numbers(numbers), None, where)


def _java_vendor(tokens: list[str], default: str | None) -> str | None:
    """The JDK a `jdk17` in these tokens is: a vendor word's, else the image's default."""
    for token in tokens:
        word = token.rstrip("0123456789.")
        if word in JAVA_VENDORS:
            return JAVA_VENDORS[word]
    return default


def _name_words(repository: str) -> Iterator[ProductVersion]:
    """OS releases an image's name carries (`distroless/base-debian12`, `ubi8/ubi-minimal`)."""
    for component in repository.lower().split("/"):
        for version in _words(re.split(r"[-_.]", component), "name", None):
            if version.product in OS_PRODUCTS and (version.cycle or version.release):
                yield version


def _numbers(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


def cycle_of(lifecycle: Lifecycle, version: ProductVersion) -> EolCycle | None:
    """The release cycle `version` is in, by endoflife.date's cycle names: the one named, the
    longest that its version starts with (`9.6.24` -> 9.6, `12.17` -> 12), else, for a tag
    that floats over a series (`3`), the newest cycle of that series."""
    if version.cycle is not None:
        return next((c for c in lifecycle.cycles if c.name == version.cycle), None)
    release = version.release or ()
    numbered = [(numbers, c) for c in lifecycle.cycles if (numbers := _cycle_numbers(c.name))]
    for length in range(len(release), 0, -1):
        for numbers, cycle in numbered:
            if numbers == release[:length]:
                return cycle
    series = [(numbers, c) for numbers, c in numbered if numbers[: len(release)] == release]
    if not release or not series:
        return None
    return max(series, key=lambda pair: pair[0])[1]


def _cycle_numbers(name: str) -> tuple[int, ...]:
    return _numbers(name) if _NUMBERS.fullmatch(name) else ()
