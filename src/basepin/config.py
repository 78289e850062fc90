"""Configuration: `[tool.basepin]` in pyproject.toml or a `.basepin.toml`, then CLI flags."""

from __future__ import annotations

import os
import sys
from types import MappingProxyType

from basepin.catalog import RULES
from basepin.discover import KINDS, named_files
from basepin.errors import ConfigError
from basepin.model import SEVERITIES
from basepin.records import NamedTuple

# Neither typing nor pathlib at run time: an offline check imports this on every commit.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any, Literal, TypeVar

    from basepin.discover import Named
    from basepin.model import Severity

    SeverityOrOff = Literal["error", "warning", "note", "off"]
    BumpScope = Literal["patch", "minor", "major"]
    UnknownAge = Literal["deny", "allow"]
    _Choice = TypeVar("_Choice", bound=str)

_LEVELS: tuple[SeverityOrOff, ...] = (*SEVERITIES, "off")
_SCOPES: tuple[BumpScope, ...] = ("patch", "minor", "major")
_UNKNOWN_AGES: tuple[UnknownAge, ...] = ("deny", "allow")


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Config(NamedTuple):
    fail_on: Severity = "error"
    # Per-rule severity overrides; "off" turns a rule off.
    severity: Mapping[str, SeverityOrOff] = _EMPTY
    max_age: int = 90
    platforms: tuple[str, ...] = ()
    # Allowed images (globs over registry/repository, e.g. "docker.io/library/*") and
    # registries (a host alone, e.g. "ghcr.io"); empty allows everything.
    allow: tuple[str, ...] = ()
    # Registry host -> base URL of a mirror or pull-through cache that answers for it.
    registry_mirrors: Mapping[str, str] = _EMPTY
    insecure_registries: tuple[str, ...] = ()
    # Path globs (relative to the checked folder) that are not checked.
    exclude: tuple[str, ...] = ()
    # The kinds of file to read (`basepin.discover.KINDS`); the others are not looked for.
    kinds: tuple[str, ...] = KINDS
    # Kind of file -> path globs (from the configuration file's folder) of files of that kind
    # whatever their names: GitLab CI files a pipeline includes, Dockerfiles named otherwise.
    files: Mapping[str, tuple[str, ...]] = _EMPTY
    build_args: Mapping[str, str] = _EMPTY
    bump: BumpScope = "minor"
    # How long a tag -> digest answer may be reused from the cache, in seconds.
    cache_ttl: int = 600
    timeout: float = 10.0
    # `eol-soon` when a product version reaches end of life within this many days.
    eol_warning_days: int = 90
    # Cooldown: no digest or tag younger than this many days is proposed (0: off).
    min_release_age: int = 0
    # Whether a candidate whose date is unknown may be proposed under a cooldown.
    min_release_age_unknown: UnknownAge = "deny"
    # The file read, as given to load_config (find_config gives a Path).
    source: str | os.PathLike[str] | None = None

    def severity_of(self, rule: str) -> SeverityOrOff:
        info = RULES[rule]
        return self.severity.get(rule, info.severity if info.default_on else "off")

    def named_files(self) -> Named | None:
        """`files` with the folder its globs are read from (`basepin.discover.Named`)."""
        if not self.files:
            return None
        root = os.path.dirname(os.path.abspath(self.source)) if self.source else os.getcwd()
        return named_files(root, self.files)

    def merged(self, **overrides: Any) -> Config:
        """A copy with the CLI's values; None means "not given on the command line"."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return self._replace(**given)


CONFIG_NAMES = (".basepin.toml", "pyproject.toml")


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The nearest `.basepin.toml`, or pyproject.toml with a [tool.basepin] table, walking up."""
    found = find_config_file(start)
    if found is None:
        return None
    from pathlib import Path  # only once a file is found: the walk itself stays light

    return Path(found)


def find_config_file(start: str | os.PathLike[str]) -> str | None:
    """find_config as a str path (absolute, symlinks resolved), without importing pathlib."""
    folder = os.path.realpath(start)
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    while True:
        dotfile = os.path.join(folder, ".basepin.toml")
        if os.path.isfile(dotfile):
            return dotfile
        pyproject = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(pyproject) and _has_basepin_table(pyproject):
            return pyproject
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _has_basepin_table(pyproject: str) -> bool:
    try:
        # A cheap look before a full parse: most pyproject files have no such table.
        with open(pyproject, encoding="utf-8", errors="replace") as stream:
            return "[tool.basepin" in stream.read()
    except OSError:
        return False


def load_config(path: str | os.PathLike[str]) -> Config:
    # Imported here: most runs have no configuration file, and start-up counts.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        with open(path, encoding="utf-8") as stream:
            data = tomllib.loads(stream.read())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if os.path.basename(path) == "pyproject.toml":
        table = data.get("tool", {}).get("basepin", {})
    else:
        table = data.get("tool", {}).get("basepin", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.basepin] must be a table")
    return parse_table(table, path)


def parse_table(table: Mapping[str, Any], source: str | os.PathLike[str] | None = None) -> Config:
    where = str(source) if source else "configuration"
    reader = _Reader(where, table)
    config = Config(
        fail_on=reader.choice("fail-on", SEVERITIES, "error"),
        severity=reader.severities(),
        max_age=reader.integer("max-age", 90, minimum=0),
        platforms=reader.strings("platforms"),
        allow=reader.strings("allow"),
        registry_mirrors=reader.mapping("registry-mirrors"),
        insecure_registries=reader.strings("insecure-registries"),
        exclude=reader.strings("exclude"),
        kinds=reader.kinds(),
        files=reader.files(),
        build_args=reader.mapping("build-args"),
        bump=reader.choice("bump", _SCOPES, "minor"),
        cache_ttl=reader.integer("cache-ttl", 600, minimum=0),
        timeout=float(reader.integer("timeout", 10, minimum=1)),
        eol_warning_days=reader.integer("eol-warning-days", 90, minimum=0),
        min_release_age=reader.integer("min-release-age", 0, minimum=0),
        min_release_age_unknown=reader.choice("min-release-age-unknown", _UNKNOWN_AGES, "deny"),
        source=source,
    )
    reader.reject_unknown()
    return config


class _Reader:
    """Reads typed values from a TOML table and names the key in every error."""

    def __init__(self, where: str, table: Mapping[str, Any]) -> None:
        self.where = where
        self.table = table
        self.seen: set[str] = set()

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        return self.table.get(key)

    def _error(self, key: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.where}: {key} must be {expected}, not {value!r}")

    def choice(self, key: str, allowed: tuple[_Choice, ...], default: _Choice) -> _Choice:
        value = self._get(key)
        if value is None:
            return default
        if value not in allowed:
            raise self._error(key, " or ".join(allowed), value)
        return allowed[allowed.index(value)]

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._error(key, f"a whole number >= {minimum}", value)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._error(key, "a list of strings", value)
        return tuple(value)

    def mapping(self, key: str) -> dict[str, str]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self._error(key, "a table of strings", value)
        return dict(value)

    def kinds(self) -> tuple[str, ...]:
        value = self._get("kinds")
        if value is None:
            return KINDS
        kinds = self.strings("kinds")
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ConfigError(
                f"{self.where}: kinds must name one or more of {', '.join(KINDS)}, not {value!r}"
            )
        return tuple(dict.fromkeys(kinds))

    def files(self) -> dict[str, tuple[str, ...]]:
        value = self._get("files")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._error("files", "a table of kinds of file", value)
        files: dict[str, tuple[str, ...]] = {}
        for kind, globs in value.items():
            if kind not in KINDS:
                raise ConfigError(
                    f"{self.where}: files.{kind}: unknown kind of file; known: {', '.join(KINDS)}"
                )
            if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
                raise self._error(f"files.{kind}", "a list of path globs", globs)
            files[kind] = tuple(globs)
        return files

    def severities(self) -> dict[str, SeverityOrOff]:
        levels: dict[str, SeverityOrOff] = {}
        for rule, level in self.mapping("severity").items():
            if rule not in RULES:
                raise ConfigError(
                    f"{self.where}: severity.{rule}: unknown rule; known: {', '.join(RULES)}"
                )
            if level not in _LEVELS:
                raise self._error(f"severity.{rule}", "error, warning, note or off", level)
            levels[rule] = _LEVELS[_LEVELS.index(level)]
        return levels

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise ConfigError(f"{self.where}: unknown setting {', '.join(unknown)}")
