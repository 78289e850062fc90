"""The Action's inputs, read from the environment action.yml sets (`INPUT_<NAME>`).

Composite actions pass inputs to scripts only through `env:`; the names here are the input
names upper-cased with `-` as `_` (`fail-on` -> `INPUT_FAIL_ON`). A missing variable takes the
input's default, so `python -m basepin.action` also runs outside a workflow.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from basepin.errors import UsageError

Mode = Literal["check", "suggest", "fix"]

# The defaults action.yml declares (its tests hold the two together).
DEFAULTS: Mapping[str, str] = {
    "paths": ".",
    "mode": "check",
    "fail-on": "error",
    "offline": "false",
    "max-age": "90",
    "min-release-age": "",
    "min-release-age-unknown": "",
    "eol-warning-days": "",
    "config": "",
    "sarif": "",
    "summary": "true",
    "annotations": "true",
    "bump": "false",
    "vulns": "false",
    "github-token": "",
    "registry-mirrors": "",
    "build-args": "",
    "dockerhub-username": "",
    "dockerhub-token": "",
}
_MODES: tuple[Mode, ...] = ("check", "suggest", "fix")
_LEVELS = ("error", "warning", "note")
_NAME_VALUE = re.compile(r"[^=\s]+=.*")


@dataclass(frozen=True)
class Inputs:
    paths: tuple[str, ...]
    mode: Mode
    # None where the input was left at its default: basepin's configuration file then decides.
    fail_on: str | None
    max_age: int | None
    offline: bool
    config: str
    sarif: str
    summary: bool
    annotations: bool
    bump: bool
    registry_mirrors: tuple[str, ...]
    build_args: tuple[str, ...]
    dockerhub_username: str
    # Secrets stay out of the repr.
    github_token: str = field(repr=False)
    dockerhub_token: str = field(repr=False)
    # None where left empty: the configuration file decides (see README, Configuration).
    min_release_age: int | None = None
    min_release_age_unknown: str | None = None
    eol_warning_days: int | None = None
    # The `vulnerable` rule (SBOM attestations and OSV).
    vulns: bool = False


def env_name(name: str) -> str:
    return "INPUT_" + name.upper().replace("-", "_")


def read_inputs(environ: Mapping[str, str]) -> Inputs:
    """The inputs, checked; a bad value raises UsageError naming the input and the value."""

    def raw(name: str) -> str:
        return environ.get(env_name(name), DEFAULTS[name]).strip()

    fail_on = _choice("fail-on", raw("fail-on"), _LEVELS)
    max_age = raw("max-age")
    if not max_age.isdigit() or int(max_age) < 1:
        raise UsageError(f"input max-age: expected a whole number of days, got {max_age!r}")
    offline = _flag("offline", raw("offline"))
    if offline and raw("mode") == "fix":
        raise UsageError(
            "input offline: fix mode asks the registry for digests; set offline: false"
        )
    return Inputs(
        paths=_paths(raw("paths")),
        mode=_mode(raw("mode")),
        fail_on=None if fail_on == DEFAULTS["fail-on"] else fail_on,
        max_age=None if int(max_age) == int(DEFAULTS["max-age"]) else int(max_age),
        offline=offline,
        config=raw("config"),
        sarif=raw("sarif"),
        summary=_flag("summary", raw("summary")),
        annotations=_flag("annotations", raw("annotations")),
        bump=_flag("bump", raw("bump")),
        github_token=raw("github-token"),
        registry_mirrors=_name_values("registry-mirrors", raw("registry-mirrors"), "HOST=URL"),
        build_args=_name_values("build-args", raw("build-args"), "NAME=VALUE", commas=False),
        dockerhub_username=raw("dockerhub-username"),
        dockerhub_token=raw("dockerhub-token"),
        min_release_age=_days("min-release-age", raw("min-release-age")),
        min_release_age_unknown=_choice(
            "min-release-age-unknown", raw("min-release-age-unknown"), ("", "deny", "allow")
        )
        or None,
        eol_warning_days=_days("eol-warning-days", raw("eol-warning-days")),
        vulns=_flag("vulns", raw("vulns")),
    )


def _days(name: str, value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise UsageError(f"input {name}: expected a whole number of days, got {value!r}")
    return int(value)


def _mode(value: str) -> Mode:
    for mode in _MODES:
        if value == mode:
            return mode
    raise UsageError(f"input mode: expected one of {', '.join(_MODES)}, got {value!r}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"input {name}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _flag(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise UsageError(f"input {name}: expected true or false, got {value!r}")
    return value.lower() == "true"


def _paths(value: str) -> tuple[str, ...]:
    """One or more paths a line; quotes keep a path with spaces together."""
    paths: list[str] = []
    for line in value.splitlines():
        try:
            paths += shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"input paths: cannot read {line!r}: {exc}") from None
    return tuple(paths) or (".",)


def _name_values(name: str, value: str, shape: str, *, commas: bool = True) -> tuple[str, ...]:
    items = [i.strip() for i in (value.replace(",", "\n") if commas else value).splitlines()]
    for item in items:
        if item and not _NAME_VALUE.fullmatch(item):
            raise UsageError(f"input {name}: expected {shape} on each line, got {item!r}")
    return tuple(item for item in items if item)
