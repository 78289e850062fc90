"""What an SBOM attestation says an image holds, as the packages OSV is asked about.

BuildKit stores an SBOM as an in-toto statement (`_type`, `subject`, `predicateType`,
`predicate`) in a layer of the image's attestation manifest (moby/buildkit
docs/attestations/attestation-storage.md, sbom.md). The predicate is an SPDX document
(`https://spdx.dev/Document`: `packages[].externalRefs[]` of `referenceType` `purl`) or a
CycloneDX one (`https://cyclonedx.org/bom`: `components[].purl`, nested components too).

OSV keys a distribution's advisories on the *source* package of a release (`Debian:12`,
`Alpine:v3.20`, `Ubuntu:24.04:LTS`), so a purl is turned into OSV's ecosystem, name and
version, not sent as it is: OSV answers a Debian purl without a release with every
release's advisories, and an Alpine purl with none. What tells the source package: Syft's
`upstream=` qualifier, or an SPDX `GENERATED_FROM` relationship (Docker Scout's SBOMs list
source packages so). A package whose release cannot be told is not asked about, and counted.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from basepin.records import NamedTuple

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any

SPDX_PREDICATE = "https://spdx.dev/Document"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
# Components are read this deep at most (CycloneDX nests them).
MAX_DEPTH = 32


class PackageQuery(NamedTuple):
    """One package version as OSV is asked about it."""

    ecosystem: str
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version} ({self.ecosystem})"


class Sbom(NamedTuple):
    """The packages of one SBOM."""

    format: str  # "spdx" or "cyclonedx"
    queries: tuple[PackageQuery, ...]
    # Packages listed in all (with a purl or not), and those OSV cannot be asked about.
    packages: int
    unasked: int
    # The digests of the images the statement is about (`subject[].digest`), where it says.
    subjects: tuple[str, ...] = ()


class SbomAnswer(NamedTuple):
    """What an image's SBOM attestations list, for the platforms read."""

    queries: tuple[PackageQuery, ...] | None  # None: nothing known (`reason`)
    packages: int = 0
    platforms: tuple[str, ...] = ()
    reason: str | None = None
    # Whether the answer holds for good (an SBOM read, or none attached to the index); a
    # registry that failed to answer may answer next time.
    lasting: bool = True


class SbomError(ValueError):
    """The attestation is not an SBOM basepin can read; the message says why."""


def predicate_kind(predicate_type: str) -> str | None:
    """ "spdx", "cyclonedx" or None for an in-toto predicate type (versioned ones included)."""
    if predicate_type.startswith(SPDX_PREDICATE):
        return "spdx"
    if predicate_type.startswith(CYCLONEDX_PREDICATE):
        return "cyclonedx"
    return None


def read_statement(data: bytes) -> Sbom:
    """The packages of an in-toto statement that holds an SPDX or CycloneDX SBOM."""
    try:
        statement = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SbomError("the attestation is not JSON") from None
    if not isinstance(statement, dict):
        raise SbomError("the attestation is not an in-toto statement")
    kind = predicate_kind(str(statement.get("predicateType", "")))
    predicate = statement.get("predicate")
    if kind is None or not isinstance(predicate, dict):
        raise SbomError("the attestation holds no SPDX or CycloneDX SBOM")
    if kind == "spdx":
        purls, packages = _spdx_purls(predicate)
    else:
        purls, packages = _cyclonedx_purls(predicate)
    queries: dict[PackageQuery, None] = {}
    unasked = 0
    for purl in purls:
        query = osv_query(purl)
        if query is None:
            unasked += 1
        else:
            queries.setdefault(query, None)
    return Sbom(kind, tuple(queries), packages, unasked, _subjects(statement.get("subject")))


def _subjects(value: Any) -> tuple[str, ...]:
    found = []
    for subject in _list(value):
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict):
            found += [f"{alg}:{hexdigits}" for alg, hexdigits in digests.items()]
    return tuple(found)


def _spdx_purls(document: Mapping[str, Any]) -> tuple[list[str], int]:
    packages = [p for p in _list(document.get("packages")) if isinstance(p, dict)]
    by_id = {str(p.get("SPDXID")): p for p in packages}
    # SPDX: "A GENERATED_FROM B" (A was built from B); Docker Scout links binary packages
    # to their source packages so.
    sources: dict[str, list[Mapping[str, Any]]] = {}
    for relation in _list(document.get("relationships")):
        if not isinstance(relation, dict):
            continue
        kind = relation.get("relationshipType")
        element, related = relation.get("spdxElementId"), relation.get("relatedSpdxElement")
        if kind == "GENERATED_FROM" and str(related) in by_id:
            sources.setdefault(str(element), []).append(by_id[str(related)])
        elif kind == "GENERATES" and str(element) in by_id:
            sources.setdefault(str(related), []).append(by_id[str(element)])
    purls: list[str] = []
    for package in packages:
        own = [
            str(ref.get("referenceLocator"))
            for ref in _list(package.get("externalRefs"))
            if isinstance(ref, dict) and ref.get("referenceType") == "purl"
        ]
        purls += own
        for source in sources.get(str(package.get("SPDXID")), ()):
            name, version = source.get("name"), source.get("versionInfo")
            # A source package without a purl of its own: asked about as its binary's kind.
            if own and isinstance(name, str) and not _has_purl(source):
                purls += [_renamed(purl, name, version) for purl in own]
    # The document's own root package (the image) has no purl and is no package.
    real = sum(1 for p in packages if p.get("primaryPackagePurpose") != "FILE" or _has_purl(p))
    return purls, real


def _has_purl(package: Mapping[str, Any]) -> bool:
    return any(
        isinstance(ref, dict) and ref.get("referenceType") == "purl"
        for ref in _list(package.get("externalRefs"))
    )


def _cyclonedx_purls(document: Mapping[str, Any]) -> tuple[list[str], int]:
    purls: list[str] = []
    count = 0
    for component in _components(_list(document.get("components")), 0):
        if component.get("type") in ("file", "operating-system"):
            continue
        count += 1
        purl = component.get("purl")
        if isinstance(purl, str):
            purls.append(purl)
    return purls, count


def _components(items: Iterable[Any], depth: int) -> Iterator[Mapping[str, Any]]:
    if depth > MAX_DEPTH:
        return
    for item in items:
        if isinstance(item, dict):
            yield item
            yield from _components(_list(item.get("components")), depth + 1)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- package URLs ------------------------------------------------------------------------------


class Purl(NamedTuple):
    type: str
    namespace: str
    name: str
    version: str
    qualifiers: Mapping[str, str]


_PURL = re.compile(
    r"pkg:/*([A-Za-z][A-Za-z0-9.+-]*)/([^?#@]+?)(?:@([^?#]*))?(?:\?([^#]*))?(?:#.*)?"
)


def parse_purl(text: str) -> Purl | None:
    """`pkg:type/namespace/name@version?qualifiers#subpath` (purl-spec), components
    percent-decoded; None when `text` is no purl."""
    match = _PURL.fullmatch(text.strip())
    if match is None:
        return None
    kind, path, version, query = match.groups()
    *namespace, name = path.strip("/").split("/")
    qualifiers: dict[str, str] = {}
    for pair in (query or "").split("&"):
        key, _, value = pair.partition("=")
        if key and value:
            qualifiers[key.lower()] = unquote(value)
    return Purl(
        kind.lower(),
        "/".join(unquote(part) for part in namespace),
        unquote(name),
        unquote(version or ""),
        qualifiers,
    )


def _renamed(purl: str, name: str, version: Any) -> str:
    """`purl` naming another package of the same kind and release (a source package)."""
    parsed = parse_purl(purl)
    if parsed is None:
        return purl
    kept = "&".join(
        f"{k}={v}" for k, v in parsed.qualifiers.items() if k not in ("upstream", "epoch")
    )
    new_version = version if isinstance(version, str) and version else parsed.version
    namespace = f"{parsed.namespace}/" if parsed.namespace else ""
    return f"pkg:{parsed.type}/{namespace}{name}@{new_version}" + (f"?{kept}" if kept else "")


# Language ecosystems: purl type -> OSV ecosystem.
_LANGUAGES = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "maven": "Maven",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "nuget": "NuGet",
    "composer": "Packagist",
    "hex": "Hex",
    "pub": "Pub",
    "swift": "SwiftURL",
    "hackage": "Hackage",
    "cran": "CRAN",
}
# Release names OSV does not use, by the numbers it does (distro-info-data).
_DEBIAN_CODENAMES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    "sid": "sid",
    "unstable": "sid",
}
_UBUNTU_CODENAMES = {
    "bionic": "18.04",
    "focal": "20.04",
    "jammy": "22.04",
    "mantic": "23.10",
    "noble": "24.04",
    "oracular": "24.10",
    "plucky": "25.04",
    "questing": "25.10",
    "resolute": "26.04",
}
_RELEASE = re.compile(r"(\d+)(?:\.(\d+))?")


def osv_query(purl_text: str) -> PackageQuery | None:
    """OSV's ecosystem, name and version for a purl; None when OSV cannot be asked (a kind
    it does not know, no version, a distribution package whose release is unknown)."""
    purl = parse_purl(purl_text)
    if purl is None or not purl.version or not purl.name:
        return None
    if purl.type in _LANGUAGES:
        name = purl.name
        if purl.type == "pypi":
            name = re.sub(r"[-_.]+", "-", name).lower()  # PEP 503
        elif purl.type == "maven" and purl.namespace:
            name = f"{purl.namespace}:{purl.name}"
        elif purl.namespace and purl.type in ("npm", "golang", "composer"):
            name = f"{purl.namespace}/{purl.name}"
        return PackageQuery(_LANGUAGES[purl.type], name, purl.version)
    if purl.type not in ("deb", "apk", "alpine"):  # `pkg:alpine/...`: older Syft
        return None
    ecosystem = _distribution(purl)
    if ecosystem is None:
        return None
    name, version = purl.name, purl.version
    upstream = purl.qualifiers.get("upstream", "")
    if upstream:
        # Syft: `upstream=openssl` or `upstream=openssl@3.0.11-1`: the source package.
        source, _, source_version = upstream.partition("@")
        name = source.strip() or name
        version = source_version.strip() or version
        if " (" in name:  # dpkg's "openssl (3.0.11-1)" spelling
            name, _, rest = name.partition(" (")
            version = rest.rstrip(")") or version
    epoch = purl.qualifiers.get("epoch", "")
    if epoch.isdigit() and ":" not in version:
        version = f"{epoch}:{version}"
    return PackageQuery(ecosystem, name, version)


def _distribution(purl: Purl) -> str | None:
    """`Debian:12`, `Ubuntu:24.04:LTS` or `Alpine:v3.20` from a purl's namespace and
    qualifiers (Syft: `distro=debian-12`; Docker Scout: `os_name`, `os_version`,
    `os_distro`; also `distro=bookworm`)."""
    q = purl.qualifiers
    system = (q.get("os_name") or purl.namespace or purl.type).lower()
    distro = q.get("distro", "").lower()
    named, _, numbered = distro.rpartition("-")
    if named and named in ("debian", "ubuntu", "alpine"):
        system, distro = named, numbered
    candidates = [q.get("os_version", ""), distro, q.get("os_distro", "").lower()]
    if system == "debian":
        for value in candidates:
            release = _DEBIAN_CODENAMES.get(value) or _number(value, parts=1)
            if release:
                return f"Debian:{release}"
    elif system == "ubuntu":
        for value in candidates:
            release = _UBUNTU_CODENAMES.get(value) or _number(value, parts=2)
            if release:
                year, _, month = release.partition(".")
                lts = month == "04" and int(year) % 2 == 0
                return f"Ubuntu:{release}" + (":LTS" if lts else "")
    elif system == "alpine":
        for value in candidates:
            release = _number(value.removeprefix("v"), parts=2)
            if release:
                return f"Alpine:v{release}"
    return None


def _number(value: str, *, parts: int) -> str | None:
    """`12` (of `12.5`), `24.04`, `3.20` (of `3.20.1`): a release as OSV numbers it."""
    match = _RELEASE.match(value)
    if match is None or (match.end() < len(value) and value[match.end()] not in ".-_"):
        return None
    major, minor = match.groups()
    if parts == 1:
        return major
    if minor is None:
        return None
    width = 2 if len(minor) >= 2 and minor.startswith("0") else len(minor)
    return f"{major}.{minor.zfill(width)}"
