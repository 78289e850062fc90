"""Which images the `vulnerable` rule scans for each reference (`basepin.rules.vulnerable`)."""

from __future__ import annotations

from basepin.config import Config
from basepin.model import DigestInfo, Lookup, Missing, Platform, Resolution, TagInfo
from basepin.rules.vulnerable import scan_targets
from basepin.scans import ScanTarget

PINNED = "sha256:" + "1" * 64
NOW = "sha256:" + "2" * 64
CHILD = "sha256:" + "3" * 64
NEWER = "sha256:" + "4" * 64
ARM = Platform("linux", "arm64")


def test_a_stale_pin_scans_the_pin_and_what_the_tag_holds_now() -> None:
    text = f"python:3.12@{PINNED}"
    lookups: dict[str, Lookup] = {
        text: Resolution("docker.io/library/python:3.12", DigestInfo(NOW, ""), pin_now=NOW),
        "gone:1": Missing("gone:1", "no such tag"),
    }
    targets, subjects = scan_targets(lookups, {text: [None]}, Config(), bump=False)
    assert targets == [
        ScanTarget("docker.io", "library/python", PINNED, ()),
        ScanTarget("docker.io", "library/python", NOW, ()),
    ]
    assert subjects == {text: f"docker.io/library/python@{PINNED}"}


def test_a_pinned_platform_manifest_is_found_through_the_index() -> None:
    text = f"ghcr.io/acme/app:1@{CHILD}"
    current = DigestInfo(NOW, "", (ARM,), is_index=True, children=(CHILD,))
    lookups = {text: Resolution("ghcr.io/acme/app:1", current, pin_now=CHILD, pinned_platform=ARM)}
    targets, _ = scan_targets(lookups, {text: ["linux/arm64"]}, Config(), bump=False)
    assert targets[0] == ScanTarget("ghcr.io", "acme/app", CHILD, ("linux/arm64",), NOW)


def test_bump_targets_and_platforms_of_every_use() -> None:
    text = "node:20.1-alpine"
    tags = (
        TagInfo("20.1-alpine", NOW, verified=True),
        TagInfo("20.3-alpine", NEWER, verified=True),
        TagInfo("21.0-alpine", "sha256:" + "5" * 64, verified=True),
    )
    lookups = {
        text: Resolution("docker.io/library/node:20.1-alpine", DigestInfo(NOW, ""), tags=tags)
    }
    platforms = {text: [None, "linux/arm64", "$BUILDPLATFORM"]}
    targets, subjects = scan_targets(lookups, platforms, Config(), bump=True)
    # A use without a platform and no configured ones: linux/amd64 beside arm64.
    assert targets == [
        ScanTarget("docker.io", "library/node", NOW, ("linux/arm64", "linux/amd64")),
        ScanTarget("docker.io", "library/node", NEWER, ("linux/arm64", "linux/amd64")),
    ]
    assert subjects[text].endswith(NOW)
    configured = Config(platforms=("linux/s390x",))
    targets, _ = scan_targets(lookups, {text: [None]}, configured, bump=False)
    assert targets == [ScanTarget("docker.io", "library/node", NOW, ("linux/s390x",))]
