"""`basepin resolve REF...` and `basepin tags IMAGE`: what the registries answer for a
reference or an image, printed as it is (escaped)."""

from __future__ import annotations

import sys

from basepin.cli.options import outside, resolve_options, run_config, start_progress, told
from basepin.escape import not_a_command, shown
from basepin.model import Resolution

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up counts

if TYPE_CHECKING:
    import argparse


def run_resolve(args: argparse.Namespace) -> int:
    from basepin.model import Missing
    from basepin.reference import parse_reference
    from basepin.resolve import resolve

    for text in args.references:
        parse_reference(text)  # InvalidReference: exit 2 with the reason
    config = run_config(args)
    options = resolve_options(args, config)._replace(want_facts=False, want_tags=False)
    progress = start_progress(args)
    try:
        result = resolve(args.references, told(options, progress))
    finally:
        if progress is not None:
            progress.stop()
    code = 0
    for text in args.references:
        lookup = result.lookups[text]
        if isinstance(lookup, Resolution):
            known = lookup.current or lookup.pinned
            print(not_a_command(shown(f"{text} {known.digest if known else '?'}")))
        else:
            reason = lookup.message if isinstance(lookup, Missing) else lookup.reason
            print(f"basepin: {outside(f'{text}: {reason}')}", file=sys.stderr)
            code = max(code, 1 if isinstance(lookup, Missing) else 3)
    return code


def run_tags(args: argparse.Namespace) -> int:
    from basepin.reference import parse_reference
    from basepin.report.tags import render_tags
    from basepin.resolve import list_tags

    ref = parse_reference(args.image)
    config = run_config(args)
    progress = start_progress(args, "tag digests asked")
    if progress is not None:
        progress.waiting_for(f"waiting for {shown(ref.registry)}")
    try:
        listing = list_tags(ref, told(resolve_options(args, config), progress), limit=args.limit)
    finally:
        if progress is not None:
            progress.stop()
    sys.stdout.write(render_tags(listing.tags, args.format))
    for problem in listing.problems:
        print(f"basepin: {outside(problem)}", file=sys.stderr)
    if listing.problems:
        print(
            f"basepin: the digests of {listing.unanswered} of {len(listing.tags)} tags "
            "could not be asked",
            file=sys.stderr,
        )
    if listing.incomplete is not None:
        print(f"basepin: the list is incomplete: {outside(listing.incomplete)}", file=sys.stderr)
    return 3 if listing.problems or listing.incomplete is not None else 0
