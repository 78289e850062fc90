"""Immutable values passed between the pipeline's stages.

discover -> extract (ParsedDockerfile, ImageUse) -> resolve (Lookup) -> judge (Finding) -> report.
A stage only reads what the stage before it produced; nothing here does I/O.

They are NamedTuples rather than frozen dataclasses: as immutable and as typed, but without
the import cost (dataclasses pulls in inspect and generates code for every class, which alone
took longer than the interpreter's start-up), and an offline check is on every commit. They
are built by `basepin.records`, which spares the import of `typing` too.
"""

from __future__ import annotations

from types import MappingProxyType

from basepin.records import NamedTuple

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import date, datetime
    from typing import Literal

    from basepin.vulnerabilities import VulnerabilityReport

    UseKind = Literal[
        "from",
        "copy-from",
        "mount-from",
        "syntax",
        "compose-image",
        "workflow-container",
        "workflow-service",
        "workflow-step",
        "action-image",
        "action-step",
        "kubernetes-container",
        "devcontainer-image",
        "gitlab-image",
        "gitlab-service",
    ]
    Severity = Literal["error", "warning", "note"]

# The values of the two Literal types, for code that checks them at run time. Where each kind
# of use stands in its file: `basepin.extract` (Dockerfiles: `basepin.extract.dockerfile`).
USE_KINDS: tuple[UseKind, ...] = (
    "from",
    "copy-from",
    "mount-from",
    "syntax",
    "compose-image",
    "workflow-container",
    "workflow-service",
    "workflow-step",
    "action-image",
    "action-step",
    "kubernetes-container",
    "devcontainer-image",
    "gitlab-image",
    "gitlab-service",
)
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")  # worst first

SEVERITY_RANK: Mapping[str, int] = {"note": 0, "warning": 1, "error": 2}

RULE_IDS = (
    "unpinned",
    "latest",
    "unresolved",
    "invalid",
    "stale-digest",
    "unknown",
    "outdated",
    "old-image",
    "platforms",
    "disallowed",
    "eol",
    "eol-soon",
    "vulnerable",
)

# Where a date comes from: the Docker Hub API, the OCI `org.opencontainers.image.created`
# annotation of the index or manifest, or the `created` field of the image config blob.
DATE_SOURCES = ("hub", "annotation", "config")


class Span(NamedTuple):
    """A run of text in a file.

    Lines and columns are 1-based and count characters (not bytes); `end_column` is exclusive
    (the column just after the last character, as SARIF's endColumn). `start` and `end` index
    the decoded text of the whole file, so `text[start:end]` is the run itself.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


class ImageUse(NamedTuple):
    """One external image a file names (a Dockerfile builds from, as BuildKit would read it;
    a Compose service, workflow, pod spec... runs), with where its text stands."""

    # The file the span is in: the file read, or one it reads its variables from (a Compose
    # file's `.env`, when the reference is a value written there).
    path: str
    kind: UseKind
    # Text after BuildKit's ARG substitution with quotes removed; not normalised. When
    # `resolved` is False it keeps the raw text with the variables in it.
    reference: str
    resolved: bool
    # Where the reference text stands: the operand itself, or the ARG default it came from.
    span: Span
    # First line of the instruction that names the image (inline ignores attach here).
    instruction_line: int
    via_arg: str | None = None
    stage: str | None = None
    platform: str | None = None
    # Why `resolved` is False, in words for the user ("ARG TAG has no value"). On a resolved
    # use it may say why no fix can rewrite the text (a reference assembled from variables).
    unresolved_reason: str | None = None
    # Rules silenced by `# basepin: ignore[...]` above the instruction; "*" silences all.
    ignored_rules: frozenset[str] = frozenset()
    # The text at `span` as the file has it: what a fix replaces ("" when read back from a
    # JSON report). With it, judging needs no file text.
    source: str = ""


class Problem(NamedTuple):
    """Something wrong with a file as a whole or with one instruction, found while reading."""

    path: str
    line: int
    column: int
    message: str
    # Where line and column are in the decoded text (Span.start of the finding).
    offset: int = 0


class ParsedDockerfile(NamedTuple):
    """One file read (a Dockerfile, or any kind `basepin.extract` reads). Judging needs only its
    uses and problems, so a run that holds many files while the registries answer may let their
    `text` go."""

    path: str
    text: str
    uses: tuple[ImageUse, ...]
    problems: tuple[Problem, ...] = ()
    # What the user should know that is no problem with the file, such as a Helm template
    # left unread (it is not YAML until rendered).
    notes: tuple[Problem, ...] = ()


# The platform whose image a size is given for when none is configured.
DEFAULT_PLATFORM = "linux/amd64"


def size_platform(platforms: Sequence[str]) -> str:
    """The platform image sizes are taken for: the first configured one."""
    return platforms[0] if platforms else DEFAULT_PLATFORM


class Platform(NamedTuple):
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


class Dated(NamedTuple):
    """A date and where it comes from (one of DATE_SOURCES)."""

    when: datetime
    source: str


class TagInfo(NamedTuple):
    """One tag of a repository, with what the registry tells about it."""

    name: str
    digest: str | None = None
    # When its image was pushed (Docker Hub), where known.
    pushed: datetime | None = None
    # Compressed size of its image for the first configured platform, where known.
    size: int | None = None
    # Whether `digest` was confirmed over bytes (or by two independent answers on Docker
    # Hub); a tag list's own digests are not, and are only ever compared, never written.
    verified: bool = False
    # Where `pushed` comes from (DATE_SOURCES): "hub" for the Docker Hub API's list, else the
    # build date of the tag's image where it was looked up.
    pushed_source: str | None = None


class TagListing(NamedTuple):
    """A repository's tags, newest first; `incomplete` says why the list is not whole, and
    `problems` why some tags have no digest (each reason once), `unanswered` how many."""

    tags: tuple[TagInfo, ...]
    incomplete: str | None = None
    problems: tuple[str, ...] = ()
    unanswered: int = 0


class DigestInfo(NamedTuple):
    """Facts about one manifest digest; they never change once the digest exists."""

    digest: str
    media_type: str
    # Platforms of an index's children (attestations left out), or of a single manifest
    # where its config says so.
    platforms: tuple[Platform, ...] = ()
    is_index: bool = False
    # For an index: the digests of the platform manifests, in the order of `platforms`.
    children: tuple[str, ...] = ()
    # Image build date; None when unknown or a reproducible-build epoch.
    created: datetime | None = None
    # Compressed size in bytes (manifest, config and layers), where known.
    size: int | None = None
    # Where `created` comes from: "annotation" (org.opencontainers.image.created on the index
    # or manifest) or "config" (the config blob's `created`).
    created_source: str | None = None


class Gap(NamedTuple):
    """Answers a reference's check lacks: `rules` could not be judged, for `reason`."""

    rules: tuple[str, ...]
    reason: str


class Resolution(NamedTuple):
    """What the registry says about one reference today."""

    reference: str  # normalised: registry/repository[:tag][@digest]
    # What the tag points to now (None when the reference is digest-only).
    current: DigestInfo | None
    # The digest the user pinned, when there is one.
    pinned: DigestInfo | None = None
    # When the image the tag points to was pushed, per Docker Hub (the newest push of its
    # platform images, else the tag's), where known.
    pushed: datetime | None = None
    # Compressed size of the image for the first configured platform, where known.
    size: int | None = None
    tags: tuple[TagInfo, ...] | None = None
    # `ratelimit-remaining` of the registry's last answer, where it sent one.
    rate_limit_remaining: int | None = None
    # The digest a pin should hold today: the tag's index digest, or, where the user pinned
    # one platform's manifest, that platform's manifest in the current index.
    pin_now: str | None = None
    # Set when the pinned digest is one platform's manifest of a multi-platform image.
    pinned_platform: Platform | None = None
    # What could not be asked or read for some rules although the reference was answered (a
    # tag list cut short, the Docker Hub API's dates): the run is incomplete for those rules.
    unchecked: tuple[Gap, ...] = ()


class EolCycle(NamedTuple):
    """One release cycle of a product, as endoflife.date describes it."""

    name: str  # "3.8", "11", "22.04"
    # When it reaches (or reached) end of life; None when not known.
    eol: date | None = None
    # endoflife.date's own verdict, for a cycle without a date.
    is_eol: bool = False
    codename: str | None = None


class Lifecycle(NamedTuple):
    """A product's release cycles (endoflife.date), newest first as the API lists them."""

    product: str  # the API's name: "python", "alpine-linux"
    label: str  # "Python", "Alpine Linux"
    cycles: tuple[EolCycle, ...]
    # When the data was fetched.
    fetched: datetime | None = None


class Missing(NamedTuple):
    """The registry answered that the repository, tag or digest does not exist."""

    reference: str
    message: str


class Unresolved(NamedTuple):
    """A reference that could not be checked (network, auth, rate limit): never 'ok'."""

    reference: str
    reason: str


Lookup = Resolution | Missing | Unresolved


class Edit(NamedTuple):
    """Replace `text[start:end]` of one file with `replacement` (a one-line edit).

    `original` is the text the edit expects to find there; an edit whose original is no longer
    in place (the file changed since it was read) is refused, never applied blindly.
    """

    path: str
    line: int
    column: int
    end_column: int
    start: int
    end: int
    original: str
    replacement: str


class Finding(NamedTuple):
    rule: str
    severity: Severity
    path: str
    span: Span
    reference: str
    message: str
    fix: Edit | None = None


class Report(NamedTuple):
    """Everything a formatter needs; formatters are pure functions of it."""

    files: tuple[str, ...]
    uses: tuple[ImageUse, ...]
    findings: tuple[Finding, ...]
    incomplete: tuple[Unresolved, ...] = ()
    # Online lookups keyed by ImageUse.reference; empty offline.
    lookups: Mapping[str, Lookup] = MappingProxyType({})
    offline: bool = True
    # Known vulnerabilities of the images, when the `vulnerable` rule ran.
    vulnerabilities: VulnerabilityReport | None = None
    # What reading the files had to say that is no finding (a Helm template left unread).
    notes: tuple[Problem, ...] = ()
