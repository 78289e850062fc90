"""`basepin vulns IMAGE[:TAG|@DIGEST]`: the known vulnerabilities of one image, worst first.

The image is the digest the reference pins, else the one its tag points to now; its SBOM
attestation (for `--platform`, default linux/amd64) is read and OSV asked about its packages,
as the `vulnerable` rule does (`basepin.rules.vulnerable`), with the same cache. Text from the SBOM
and OSV (IDs, package names, summaries) is shown escaped.
"""

from __future__ import annotations

import json
import os
import sys

from basepin.cli.options import resolve_options, run_config
from basepin.escape import json_text, not_a_command, redacted_url, shown
from basepin.model import Missing, Resolution
from basepin.reference import parse_reference
from basepin.vulnerabilities import OSV_URL, counted

TYPE_CHECKING = False  # `typing` is not imported at run time: see basepin.records

if TYPE_CHECKING:
    import argparse

    from basepin.advisories import Found
    from basepin.config import Config
    from basepin.resolve import ResolveOptions
    from basepin.vulnerabilities import VulnSummary


def run_vulns(args: argparse.Namespace) -> int:
    config = run_config(args)
    return _list_vulns(args.image, args.format, config, resolve_options(args, config))


def _list_vulns(image: str, fmt: str, config: Config, options: ResolveOptions) -> int:
    """Exit 0: no known vulnerability; 1: some; 3: unknown (no SBOM, or not checked)."""
    from basepin.resolve import resolve
    from basepin.rules.vulnerable import scan
    from basepin.scans import ScanTarget

    ref = parse_reference(image)  # InvalidReference: exit 2 with the reason
    lookup = resolve([image], options._replace(want_facts=False, want_tags=False)).lookups[image]
    if not isinstance(lookup, Resolution):
        reason = lookup.message if isinstance(lookup, Missing) else lookup.reason
        print(f"basepin: {shown(redacted_url(f'{image}: {reason}'))}", file=sys.stderr)
        return 1 if isinstance(lookup, Missing) else 3
    digest = ref.digest or (lookup.current.digest if lookup.current else None)
    if digest is None:
        print(f"basepin: {shown(image)}: the registry named no digest", file=sys.stderr)
        return 3
    parent = lookup.current.digest if lookup.pinned_platform and lookup.current else None
    target = ScanTarget(ref.registry, ref.repository, digest, tuple(config.platforms), parent)
    scanned = scan([target], options, osv_url=os.environ.get("BASEPIN_OSV_URL") or None)
    for warning in scanned.warnings:
        print(f"basepin: warning: {shown(redacted_url(warning))}", file=sys.stderr)
    summary = scanned.summaries[target.key]
    found = scanned.found[target.key]
    subject = f"{ref.name}@{digest}"
    if fmt == "json":
        sys.stdout.write(_json(image, subject, summary, found, scanned.pulls))
    else:
        sys.stdout.write(_text(image, digest, summary, found))
    trouble = scanned.incomplete.get(target.key)
    if trouble:
        print(f"basepin: could not check {shown(image)}: {shown(trouble)}", file=sys.stderr)
    print(
        f"basepin: {scanned.pulls} Docker Hub pull(s), {scanned.osv_requests} OSV request(s)",
        file=sys.stderr,
    )
    if summary.counts is None or trouble:
        return 3
    return 1 if summary.total else 0


def _text(image: str, digest: str, summary: VulnSummary, found: list[Found]) -> str:
    where = f" ({', '.join(summary.platforms)})" if summary.platforms else ""
    if summary.counts is None:
        head = f"{image}@{digest}{where}: vulnerabilities unknown: {summary.reason}"
        return not_a_command(shown(head)) + "\n"
    count = summary.packages
    packages = f" in {count} package{'s' if count != 1 else ''}" if count is not None else ""
    lines = [not_a_command(shown(f"{image}@{digest}{where}: {counted(summary)}{packages}"))]
    for item in found:
        score = f"{item.score:.1f}" if item.score is not None else "-"
        aliases = f" ({', '.join(item.aliases[:3])})" if item.aliases else ""
        line = (
            f"{item.id:<24} {item.level:<8} {score:>4}  {', '.join(item.packages)}"
            f"{aliases}  {item.summary}"
        )
        lines.append(not_a_command(shown(line)))
    return "\n".join(lines) + "\n"


def _json(image: str, subject: str, summary: VulnSummary, found: list[Found], pulls: int) -> str:
    from basepin.vulnerabilities import summary_json

    document = {
        "reference": image,
        "image": subject,
        "platforms": list(summary.platforms),
        "packages": summary.packages,
        "vulnerabilities": summary_json(summary),
        "advisories": [
            {
                "id": item.id,
                "severity": item.level,
                "score": item.score,
                "rated_by": item.rated_by or None,
                "summary": item.summary,
                "aliases": list(item.aliases),
                "packages": list(item.packages),
                "url": OSV_URL + item.id,
            }
            for item in found
        ],
        "docker_hub_pulls": pulls,
    }
    return json_text(json.dumps(document, indent=2)) + "\n"
