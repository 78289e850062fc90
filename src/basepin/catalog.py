"""The rules basepin knows: id, default severity, whether it needs the registry, and help text.

Formatters (SARIF rule descriptors, the README table) and the judge read this one table.
"""

from __future__ import annotations

from basepin.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.model import Severity


class RuleInfo(NamedTuple):
    id: str
    severity: Severity
    offline: bool
    summary: str
    help: str
    fix: str
    # Off unless the configuration or a flag asks for it (it costs requests).
    default_on: bool = True


RULES: dict[str, RuleInfo] = {
    info.id: info
    for info in (
        RuleInfo(
            "unpinned",
            "error",
            True,
            "Image reference has no digest",
            "A tag can be moved to other content at any time; pin the digest "
            "(name:tag@sha256:...) so every build uses the same image, and keep the tag "
            "beside it for readers and update tools.",
            "append @sha256: of the tag's current index digest",
        ),
        RuleInfo(
            "latest",
            "error",
            True,
            "Image tag is 'latest' or absent",
            "'latest' (or no tag) says nothing about the version a build uses. Name a "
            "version tag; basepin suggests the most specific one that shares latest's digest.",
            "the most specific version tag that shares latest's digest",
        ),
        RuleInfo(
            "unresolved",
            "warning",
            True,
            "Image reference holds a variable with no value",
            "The reference uses an ARG that has no default and no --build-arg value, so the "
            "image cannot be known before the build. Give the ARG a default or pass "
            "--build-arg NAME=VALUE.",
            "none",
        ),
        RuleInfo(
            "invalid",
            "error",
            True,
            "Text is not a valid image reference, or the file cannot be read as a Dockerfile",
            "BuildKit would reject this reference (uppercase repository, bad digest, too long) "
            "or the file (not text, no FROM, unterminated heredoc).",
            "none",
        ),
        RuleInfo(
            "stale-digest",
            "error",
            False,
            "Pinned digest is no longer what the tag points to",
            "The tag was pushed again since the digest was pinned, usually with security "
            "fixes. Refresh the digest.",
            "replace the digest with the tag's current one",
        ),
        RuleInfo(
            "unknown",
            "error",
            False,
            "Repository, tag or digest does not exist in the registry",
            "The registry has no such repository, tag or digest: a typo, a deleted tag or a "
            "digest copied from another repository.",
            "none",
        ),
        RuleInfo(
            "outdated",
            "warning",
            False,
            "A newer version of the same variant exists",
            "A tag of the same variant (same precision, same suffix) with a higher version "
            "exists, for example 3.11-slim -> 3.13-slim.",
            "bump the tag (basepin fix --bump), with the new digest",
        ),
        RuleInfo(
            "old-image",
            "warning",
            False,
            "Image was built or pushed long ago",
            "The image behind the reference is older than max-age days (default 90); old "
            "images miss security fixes.",
            "none",
        ),
        RuleInfo(
            "platforms",
            "warning",
            False,
            "Pinned digest does not cover the configured platforms",
            "The pin names one platform's manifest of a multi-platform image, or an index "
            "that lacks a platform the configuration asks for. Pin the index digest.",
            "pin the index digest",
        ),
        RuleInfo(
            "disallowed",
            "error",
            True,
            "Image or registry is not on the allow-list",
            "The configuration allows only some images or registries (allow = [...]).",
            "none",
        ),
        RuleInfo(
            "eol",
            "warning",
            False,
            "Image's product version or OS release is past end of life",
            "The version the image carries (python:3.8 is Python 3.8) or the OS release its tag "
            "or name names (-bullseye is Debian 11, -alpine3.16 Alpine 3.16) no longer gets "
            "security fixes, per endoflife.date. A fresh digest does not help: move to a "
            "supported version; basepin names the nearest supported tag of the same variant.",
            "none; the message names the nearest supported tag of the same variant",
        ),
        RuleInfo(
            "eol-soon",
            "note",
            False,
            "Image's product version or OS release reaches end of life soon",
            "The version the image carries, or its OS release, reaches end of life within "
            "eol-warning-days (default 90), per endoflife.date.",
            "none; the message names the nearest supported tag of the same variant",
        ),
        RuleInfo(
            "vulnerable",
            "warning",
            False,
            "Image has known vulnerabilities",
            "The image's SBOM attestation lists packages that OSV (osv.dev) knows "
            "vulnerabilities of; the finding counts them by severity and names the worst. An "
            "image without an SBOM attestation gets a note: its vulnerabilities are unknown, "
            "not none. Off unless asked for (--vulns).",
            "none of its own; stale-digest and outdated fixes say how many they close",
            default_on=False,
        ),
    )
}
