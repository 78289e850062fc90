"""Command line: `basepin check`, `basepin fix`, `basepin resolve`, `basepin tags`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from basepin import __version__
from basepin.config import Config, find_config, load_config
from basepin.errors import BasepinError, UsageError
from basepin.model import SEVERITY_RANK, ParsedDockerfile, Problem, Report

FORMATS = ("text", "json", "sarif", "github", "markdown")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.run(args)
    except BasepinError as exc:
        print(f"basepin: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("basepin: interrupted", file=sys.stderr)
        return 130
    return code


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="basepin",
        description="Keep the base images of container builds pinned and fresh.",
    )
    parser.add_argument("--version", action="version", version=f"basepin {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check", help="check Dockerfiles (the default job)", description=_CHECK_HELP
    )
    _add_check_options(check)
    check.set_defaults(run=_run_check)
    return parser


_CHECK_HELP = (
    "Find every image the Dockerfiles under PATH build from and report references that "
    "float (no digest, 'latest') or have gone stale. Exit 0: nothing at or above --fail-on; "
    "1: findings at or above it; 2: usage or configuration error; 3: some reference could "
    "not be checked."
)


def _add_check_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    parser.add_argument(
        "--offline", action="store_true", help="only the rules that need no registry"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "note"),
        help="lowest severity that fails the check (default: error)",
    )
    parser.add_argument("--config", metavar="FILE", help="configuration file to use")
    parser.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value for a global ARG, as docker build takes it (repeatable)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )


def _load_config(args: argparse.Namespace) -> Config:
    if args.config:
        config = load_config(Path(args.config))
    else:
        start = Path(args.paths[0]) if args.paths else Path.cwd()
        found = find_config(start if start.exists() else Path.cwd())
        config = load_config(found) if found else Config()
    build_args = dict(config.build_args)
    for item in args.build_arg:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--build-arg takes NAME=VALUE, not {item!r}")
        build_args[name] = value
    return config.merged(fail_on=args.fail_on, build_args=build_args)


def _read_dockerfiles(paths: Sequence[str], config: Config) -> list[ParsedDockerfile]:
    from basepin.dockerfile import parse_dockerfile

    parsed = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            problem = Problem(path, 1, 1, f"cannot read the file: {reason}")
            parsed.append(ParsedDockerfile(path, "", (), (problem,)))
            continue
        parsed.append(parse_dockerfile(data, path, config.build_args))
    return parsed


def _run_check(args: argparse.Namespace) -> int:
    from basepin.files import discover
    from basepin.rules import judge_offline

    config = _load_config(args)
    if not args.offline:
        raise UsageError("online checks are not available in this version; run with --offline")
    paths = discover(args.paths, exclude=config.exclude)
    parsed = _read_dockerfiles(paths, config)
    findings = judge_offline(parsed, config)
    report = Report(
        files=tuple(paths),
        uses=tuple(use for p in parsed for use in p.uses),
        findings=tuple(findings),
    )
    _emit(report, args)
    return _exit_code(report, config)


def _emit(report: Report, args: argparse.Namespace) -> None:
    from basepin.report import text

    rendered = _render(report, args)
    if args.output:
        Path(args.output).write_text(rendered, encoding="utf-8")
    elif rendered:
        sys.stdout.write(rendered)
        sys.stdout.flush()
    print(text.summary(report), file=sys.stderr)


def _render(report: Report, args: argparse.Namespace) -> str:
    fmt = args.format
    if fmt == "json":
        from basepin.report import json

        return json.render(report)
    if fmt == "sarif":
        from basepin.report import sarif

        return sarif.render(report, tool_version=__version__)
    if fmt == "github":
        from basepin.report import github

        return github.render(report)
    if fmt == "markdown":
        from datetime import datetime, timezone

        from basepin.report import markdown

        return markdown.render(report, now=datetime.now(timezone.utc))
    from basepin.report import text

    return text.render(report, color=_use_color(args))


def _use_color(args: argparse.Namespace) -> bool:
    if args.color != "auto":
        return bool(args.color == "always")
    if args.output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _exit_code(report: Report, config: Config) -> int:
    threshold = SEVERITY_RANK[config.fail_on]
    if any(SEVERITY_RANK[f.severity] >= threshold for f in report.findings):
        return 1
    if report.incomplete:
        return 3
    return 0
