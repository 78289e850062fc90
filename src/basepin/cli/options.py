"""What a command's options make: the run's configuration (the configuration file's, with
the command line's over it), what to ask the registries, the progress line, and how messages
that carry outside text are shown."""

from __future__ import annotations

import os

from basepin.config import Config, find_config_file, load_config
from basepin.errors import UsageError
from basepin.escape import redacted_url, shown

TYPE_CHECKING = False  # neither `typing` nor `pathlib` is imported offline: start-up counts

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from basepin.progress import Progress
    from basepin.resolve import ResolveOptions


def run_config(args: argparse.Namespace) -> Config:
    """The configuration file's (the one named, else the one found), the options over it."""
    if getattr(args, "config", None):
        config = load_config(args.config)
    else:
        paths = getattr(args, "paths", None)
        start = paths[0] if paths else os.getcwd()
        found = find_config_file(start if os.path.exists(start) else os.getcwd())
        config = load_config(found) if found else Config()
    build_args = dict(config.build_args)
    for name, value in _pairs(getattr(args, "build_arg", []), "--build-arg", "NAME=VALUE"):
        build_args[name] = value
    mirrors = dict(config.registry_mirrors)
    mirrors.update(_pairs(args.registry_mirror, "--registry-mirror", "HOST=URL"))
    platforms = getattr(args, "platforms", None)
    kinds = getattr(args, "kinds", None)
    for flag in ("max_age", "min_release_age", "eol_warning_days"):
        if getattr(args, flag, None) is not None and getattr(args, flag) < 0:
            raise UsageError(f"--{flag.replace('_', '-')} takes a number of days >= 0")
    if getattr(args, "vulns", False) and config.severity_of("vulnerable") == "off":
        config = config._replace(severity={**config.severity, "vulnerable": "warning"})
    return config.merged(
        fail_on=getattr(args, "fail_on", None),
        build_args=build_args,
        registry_mirrors=mirrors,
        insecure_registries=(*config.insecure_registries, *args.insecure_registry),
        max_age=getattr(args, "max_age", None),
        min_release_age=getattr(args, "min_release_age", None),
        min_release_age_unknown=getattr(args, "min_release_age_unknown", None),
        eol_warning_days=getattr(args, "eol_warning_days", None),
        platforms=tuple(platforms) if platforms else None,
        kinds=tuple(dict.fromkeys(kinds)) if kinds else None,
        timeout=args.timeout,
    )


def _pairs(items: Sequence[str], flag: str, shape: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"{flag} takes {shape}, not {item!r}")
        pairs.append((name, value))
    return pairs


def resolve_options(
    args: argparse.Namespace, config: Config, *, bump: bool = False
) -> ResolveOptions:
    """What to look up; `bump`: also the digests of newer versions (`fix --bump`)."""
    from pathlib import Path

    from basepin.model import size_platform
    from basepin.registry.cache import default_folder
    from basepin.resolve import ResolveOptions

    cache_dir: Path | None = None
    if not args.no_cache:
        chosen = args.cache_dir or os.environ.get("BASEPIN_CACHE_DIR")
        cache_dir = Path(chosen) if chosen else default_folder()
    eol = eol_on(config)
    cooldown = config.min_release_age > 0
    eol_url = None
    if eol:
        from basepin.registry.eol_cache import EOL_URL

        eol_url = os.environ.get("BASEPIN_EOL_URL") or EOL_URL
    return ResolveOptions(
        mirrors=config.registry_mirrors,
        insecure=config.insecure_registries,
        timeout=config.timeout,
        cache_dir=cache_dir,
        cache_ttl=float(config.cache_ttl),
        hub_url=os.environ.get("BASEPIN_HUB_URL") or None,
        hub_registry_url=os.environ.get("BASEPIN_HUB_REGISTRY_URL") or None,
        hub_username=os.environ.get("DOCKERHUB_USERNAME") or None,
        hub_token=os.environ.get("DOCKERHUB_TOKEN") or None,
        want_facts=cooldown
        or any(config.severity_of(r) != "off" for r in ("old-image", "platforms")),
        want_tags=any(config.severity_of(r) != "off" for r in ("outdated", "latest")),
        want_newer=config.severity_of("outdated") != "off",
        # Under a cooldown the newest version's date is needed, whether bumping or not.
        want_newer_digests=bump or cooldown,
        want_dates=cooldown,
        bump_scope=config.bump,
        size_platform=size_platform(config.platforms),
        eol_url=eol_url,
    )


def eol_on(config: Config) -> bool:
    return any(config.severity_of(rule) != "off" for rule in ("eol", "eol-soon"))


def start_progress(
    args: argparse.Namespace, answers: str = "references answered"
) -> Progress | None:
    """A progress line on stderr for this run, where one is wanted (see `basepin.progress`)."""
    from basepin import progress

    return progress.start(quiet=args.quiet, answers=answers)


def told(options: ResolveOptions, progress: Progress | None) -> ResolveOptions:
    return options if progress is None else options._replace(progress=progress.answered)


def outside(text: str) -> str:
    """A message that may hold file names, registry text or URLs, as it may be shown."""
    return shown(redacted_url(text))
