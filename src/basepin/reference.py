"""Image references as distribution/reference (and so BuildKit) reads them.

`parse_reference` validates a reference and splits it into registry, repository, tag and
digest, normalised the way Docker does (Docker Hub's host spellings become `docker.io`, a
one-component Hub name gets `library/`). The text as written is kept: fixes rewrite the user's
spelling (`python:3.12` -> `python:3.12@sha256:...`), never the normalised form.
"""

from __future__ import annotations

import re
from functools import lru_cache

from basepin.digests import digest_problem
from basepin.errors import InvalidReference
from basepin.records import NamedTuple

DOCKER_HUB = "docker.io"
# Spellings of Docker Hub's registry that name the same repositories.
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
MAX_PATH_LENGTH = 255
MAX_TAG_LENGTH = 128

_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_DOMAIN_NAME = re.compile(
    r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
    r"(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*"
)
# The patterns below are not needed by every run (hosts with a port, digests, bare names):
# they are compiled on first use (re caches them), as every compile counts at start-up.
_IPV6_HOST = r"\[([A-Fa-f0-9:]+)\]"
_PORT = r"[0-9]+"
# A bare 64-hex name is an image ID to Docker, which refuses it as a repository name.
_IMAGE_ID = r"[a-f0-9]{64}"


class ImageReference(NamedTuple):
    """A valid image reference: normalised parts plus the spelling the user wrote."""

    text: str  # exactly as written
    registry: str  # host[:port]; Docker Hub in any spelling is "docker.io"
    repository: str  # path, with "library/" for one-component Docker Hub names
    tag: str | None  # as written; None when absent
    digest: str | None
    written_name: str  # the name part as written: "python", "ghcr.io/acme/base"

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    @property
    def effective_tag(self) -> str | None:
        """The tag a pull uses: as written, or "latest" when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG
        return self.tag

    @property
    def name(self) -> str:
        """registry/repository, the same for every spelling of one repository."""
        return f"{self.registry}/{self.repository}"

    def canonical(self) -> str:
        """The normalised reference, `latest` made explicit: docker.io/library/python:latest."""
        return _join(self.name, self.effective_tag, self.digest)

    def with_digest(self, digest: str) -> str:
        """The user's spelling pinned to `digest`, replacing a digest already there."""
        _check_digest(digest)
        return _join(self.written_name, self.tag, digest)

    def with_tag(self, tag: str, digest: str | None = None) -> str:
        """The user's spelling with another tag, and `digest` when given.

        A digest already written is dropped: it pinned the old tag's image.
        """
        _check_tag(tag)
        if digest is not None:
            _check_digest(digest)
        return _join(self.written_name, tag, digest)


# A monorepo names the same few references in every file: each text is parsed once.
@lru_cache(maxsize=4096)
def parse_reference(text: str) -> ImageReference:
    """Parse and validate `text`; raise InvalidReference saying exactly what is wrong."""
    if not text:
        raise InvalidReference("image reference is empty")
    if any(ch.isspace() for ch in text):
        raise InvalidReference(f"image reference {text!r} contains whitespace")
    if text.count("@") > 1:
        raise InvalidReference(f"image reference {text!r} has more than one '@'")
    remainder, at, digest = text.partition("@")
    if at:
        _check_digest(digest)
    written_name, tag = _split_tag(remainder)
    if tag is not None:
        _check_tag(tag)
    if not at and tag is None and len(written_name) == 64 and re.fullmatch(_IMAGE_ID, written_name):
        raise InvalidReference(
            f"{written_name!r} is a 64-digit hex image ID, not a repository name"
        )
    registry, repository = _split_name(written_name)
    return ImageReference(
        text=text,
        registry=registry,
        repository=repository,
        tag=tag,
        digest=digest if at else None,
        written_name=written_name,
    )


def _join(name: str, tag: str | None, digest: str | None) -> str:
    tagged = f"{name}:{tag}" if tag is not None else name
    return f"{tagged}@{digest}" if digest is not None else tagged


def _split_tag(name_and_tag: str) -> tuple[str, str | None]:
    # A colon after the last slash starts the tag; one before it belongs to host:port.
    colon = name_and_tag.rfind(":")
    if colon == -1 or "/" in name_and_tag[colon:]:
        return name_and_tag, None
    return name_and_tag[:colon], name_and_tag[colon + 1 :]


def _split_name(written_name: str) -> tuple[str, str]:
    if not written_name:
        raise InvalidReference("repository name is empty")
    first, slash, rest = written_name.partition("/")
    # As Docker decides: the first component is a host when it looks like one.
    if slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        _check_host(first)
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, written_name
    if registry in DOCKER_HUB_HOSTS:
        registry = DOCKER_HUB
        if path and "/" not in path:
            path = f"library/{path}"
    _check_path(path, written_name)
    return registry, path


def _check_host(host_and_port: str) -> None:
    ipv6 = re.match(_IPV6_HOST, host_and_port) if host_and_port.startswith("[") else None
    if ipv6:
        import ipaddress  # rare: bracketed IPv6 hosts only

        host, port = ipv6.group(0), host_and_port[ipv6.end() :]
        try:
            ipaddress.IPv6Address(ipv6.group(1))
        except ValueError:
            raise InvalidReference(f"registry host {host!r} is not an IPv6 address") from None
    else:
        host, colon, digits = host_and_port.partition(":")
        port = colon + digits
        if not _DOMAIN_NAME.fullmatch(host):
            raise InvalidReference(
                f"registry host {host!r} is not a host name: dot-separated labels of letters, "
                "digits and inner '-', or an IPv6 address in brackets"
            )
    if port and not (port.startswith(":") and re.fullmatch(_PORT, port[1:])):
        raise InvalidReference(f"registry port in {host_and_port!r} must be ':' and digits")


def _check_path(path: str, written_name: str) -> None:
    for component in path.split("/"):
        if not component:
            raise InvalidReference(f"repository name {written_name!r} has an empty path component")
        if _PATH_COMPONENT.fullmatch(component):
            continue
        if component != component.lower():
            raise InvalidReference(f"repository name must be lowercase: {component!r}")
        if not (component[0].isalnum() and component[-1].isalnum()):
            raise InvalidReference(
                f"repository path component {component!r} must start and end with a letter or digit"
            )
        raise InvalidReference(
            f"repository path component {component!r} may only hold lowercase letters and "
            "digits joined by '.', '_', '__' or dashes"
        )
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidReference(
            f"repository path is {len(path)} characters; at most {MAX_PATH_LENGTH} allowed"
        )


def _check_tag(tag: str) -> None:
    if not tag:
        raise InvalidReference("tag is empty")
    if not _TAG.fullmatch(tag):
        raise InvalidReference(
            f"tag {tag!r} may only hold letters, digits, '_', '.' and '-', "
            "and must not start with '.' or '-'"
        )
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidReference(f"tag is {len(tag)} characters; at most {MAX_TAG_LENGTH} allowed")


def _check_digest(digest: str) -> None:
    if not digest:
        raise InvalidReference("digest after '@' is empty")
    problem = digest_problem(digest)
    if problem is not None:
        shown = digest if len(digest) <= 80 else digest[:77] + "..."
        raise InvalidReference(f"digest {shown!r}: {problem}")
