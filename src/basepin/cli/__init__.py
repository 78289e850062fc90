"""Command line: `basepin check`, `basepin fix`, `basepin resolve`, `basepin tags`,
`basepin vulns`.

`main` parses the words (`basepin.cli.parser`) and runs the command's module: `check`, `fix`,
`lookups` (resolve and tags) or `vulns`, each imported only when its command runs (start-up
counts). They share `basepin.cli.options`, what the options make of a run.
"""

from __future__ import annotations

import os
import sys

from basepin.cli.options import outside
from basepin.cli.parser import build_parser, check_implied, with_command
from basepin.errors import BasepinError

TYPE_CHECKING = False  # `typing` is not imported offline: start-up counts

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    words = with_command(given)
    parser = build_parser(words)
    try:
        if len(words) > len(given):
            check_implied(parser, words)
        args = parser.parse_args(words)
    except SystemExit as exc:  # argparse already printed the usage error
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code = _runner(args.command)(args)
    except BasepinError as exc:
        # Messages carry file names and registry text: escaped, and URLs without credentials.
        print(f"basepin: error: {outside(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("basepin: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`| head`): the rest of the report has nowhere to go, and
        # the interpreter must not fail again flushing into the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def run() -> int:
    """The `basepin` command: `main`, then exit without the interpreter's teardown.

    Once the report is out, freeing a run's objects one by one only costs time: a tenth of an
    offline check, more for a monorepo. Nothing is pending by then (files and the cache are
    closed as they are finished with), so only the standard streams need flushing. Under a
    profiler or a coverage tracer the exit is the usual one, so that they can save their data.
    """
    code = main()
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a stream already closed
            code = code or 1
    os._exit(code)


def _runner(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs `command`, its module imported now."""
    if command == "check":
        from basepin.cli.check import run_check

        return run_check
    if command == "fix":
        from basepin.cli.fix import run_fix

        return run_fix
    if command == "resolve":
        from basepin.cli.lookups import run_resolve

        return run_resolve
    if command == "tags":
        from basepin.cli.lookups import run_tags

        return run_tags
    from basepin.cli.vulns import run_vulns  # "vulns"

    return run_vulns
