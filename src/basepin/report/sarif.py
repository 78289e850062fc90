"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One rule descriptor per rule of the catalogue (`basepin/<id>`), one result per finding with
its region and, where there is one, the fix as a replacement. Paths are relative to
`%SRCROOT%` (the checkout), which `originalUriBaseIds` names.

Each result carries two fingerprints. `primaryLocationLineHash` is the one code scanning tracks
alerts by, computed from the file's text exactly as GitHub's upload action computes it (see
`basepin.report.fingerprints`); the caller hands over a reader of those hashes, so this module
stays a pure function of its arguments. `basepin/v1` hashes the rule, path, reference and the
finding's rank among its twins, not the line, for viewers that read no file.

Code scanning takes at most 25,000 results per run and rejects a file with two runs of one tool
(since July 2025), so a larger report is cut, not split: results are written as the files
come, in path order, up to the limit, and a tool execution notification says how many of each
level were left out. References that could not be checked are notifications too, and make
`executionSuccessful` false: a green run would be a lie. Message texts are escaped as the text
report escapes them (see `basepin.escape`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from urllib.parse import quote

from basepin.catalog import RULES, RuleInfo
from basepin.escape import json_text
from basepin.model import Edit, Report
from basepin.report import (
    describe,
    head,
    incomplete_message,
    one_line,
    parts,
    plural,
    sorted_findings,
)
from basepin.vulnerabilities import OSV_URL

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "basepin/v1"
LINE_HASH_KEY = "primaryLocationLineHash"
# GitHub code scanning rejects a run with more results than this.
MAX_RESULTS = 25_000
SOURCE_ROOT = "%SRCROOT%"

# The line fingerprints of a file by its report path, line 1 first; None where it cannot be read.
LineHashes = Callable[[str], "Sequence[str] | None"]

_RULE_INDEX = {rule_id: index for index, rule_id in enumerate(RULES)}
_LEVELS = ("error", "warning", "note")
_INVOCATIONS = "@invocations@"


def render(
    report: Report,
    *,
    tool_version: str,
    line_hashes: LineHashes | None = None,
    source_root: str | None = None,
    max_results: int = MAX_RESULTS,
) -> str:
    return "".join(
        chunks(
            head(report),
            parts(report),
            tool_version=tool_version,
            line_hashes=line_hashes,
            source_root=source_root,
            max_results=max_results,
        )
    )


def chunks(
    run: Report,
    files: Iterable[Report],
    *,
    tool_version: str,
    line_hashes: LineHashes | None = None,
    source_root: str | None = None,
    max_results: int = MAX_RESULTS,
) -> Iterator[str]:
    """`render` from the run's head and its parts (see `basepin.report`).

    The document is laid out with an empty `results`, and the results are written into it as
    the parts come; the invocation, which counts what a cut left out, follows them. `source_root`
    is the absolute path that relative paths start from, when it is known.
    """
    described = {
        "tool": {
            "driver": {
                "name": "basepin",
                "version": tool_version,
                "rules": [_descriptor(info) for info in RULES.values()],
            }
        },
        "originalUriBaseIds": {SOURCE_ROOT: _source_root(source_root)},
        # Columns count characters, as Span and Edit do.
        "columnKind": "unicodeCodePoints",
        "results": [],
        "invocations": _INVOCATIONS,
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [described]}
    head_text, tail = json_text(json.dumps(document, indent=2)).split('"results": []')
    results = (r for part in files for r in _results(part, line_hashes, source_root))
    left_out: Counter[str] = Counter()
    written = 0
    for result in results:
        if written == max_results:
            left_out[str(result["level"])] += 1
            continue
        yield (head_text + '"results": [\n' if not written else ",\n") + _indented(
            result, _RESULTS_INDENT
        )
        written += 1
    invocation = _invocation(run, written + sum(left_out.values()), left_out, max_results)
    tail = tail.replace(json.dumps(_INVOCATIONS), _indented([invocation], " " * 6).lstrip())
    if not written:
        yield head_text + '"results": []' + tail + "\n"
        return
    yield "\n" + _RESULTS_INDENT[:-2] + "]" + tail + "\n"


# Where a result stands in the document: runs[0].results[i].
_RESULTS_INDENT = " " * 8


def _indented(value: object, indent: str) -> str:
    """`value` as `json.dumps(document, indent=2)` would write it at that depth."""
    return indent + json_text(json.dumps(value, indent=2)).replace("\n", "\n" + indent)


def _invocation(run: Report, total: int, left_out: Counter[str], limit: int) -> dict[str, object]:
    notifications: list[dict[str, object]] = [
        {
            "level": "warning",
            "message": {"text": one_line(incomplete_message(unresolved))},
            "descriptor": {"id": "basepin/incomplete"},
        }
        for unresolved in run.incomplete
    ]
    if left_out:
        dropped = sum(left_out.values())
        levels = ", ".join(plural(left_out[level], level) for level in _LEVELS if left_out[level])
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{dropped} of {total} results left out ({levels}): GitHub code "
                    f"scanning takes at most {limit} results per run, so the results of the "
                    "last files were left out; the JSON report (basepin check --format json) "
                    "has every finding."
                },
                "descriptor": {"id": "basepin/results-left-out"},
            }
        )
    return {"executionSuccessful": not run.incomplete, "toolExecutionNotifications": notifications}


def _source_root(root: str | None) -> dict[str, object]:
    if root is None:
        return {"description": {"text": "The folder basepin was run in: the checkout."}}
    path = root.replace("\\", "/").rstrip("/")
    # A Windows path (C:/work) gets the slash a file URI puts before its drive.
    return {
        "uri": "file://" + quote("/" + path.lstrip("/"), safe="/:", errors="surrogateescape") + "/"
    }


def _descriptor(info: RuleInfo) -> dict[str, object]:
    fix = "" if info.fix == "none" else f"\n\nFix: {info.fix}."
    descriptor: dict[str, object] = {
        "id": f"basepin/{info.id}",
        "name": "".join(word.capitalize() for word in info.id.split("-")),
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.help},
        "help": {
            "text": f"{info.summary}.\n\n{info.help}{fix}",
            "markdown": f"**{info.summary}.**\n\n{info.help}{fix}",
        },
        "defaultConfiguration": {"level": info.severity},
        "properties": {
            "tags": ["docker", "supply-chain", "offline" if info.offline else "registry"]
        },
    }
    if not info.default_on:
        descriptor["defaultConfiguration"] = {"level": info.severity, "enabled": False}
    if info.id == "vulnerable":
        descriptor["helpUri"] = "https://osv.dev/"
    return descriptor


def _results(
    report: Report, line_hashes: LineHashes | None, root: str | None
) -> Iterator[dict[str, object]]:
    # Twins share a path, so counting them within one file's part is counting them all.
    twins: Counter[tuple[str, str, str]] = Counter()
    hashes: dict[str, Sequence[str] | None] = {}
    for finding in sorted_findings(report):
        twin_key = (finding.rule, finding.path, finding.reference)
        twins[twin_key] += 1
        span = finding.span
        fingerprints = {FINGERPRINT_KEY: _fingerprint(*twin_key, twins[twin_key])}
        if line_hashes is not None:
            if finding.path not in hashes:
                hashes[finding.path] = line_hashes(finding.path)
            of_file = hashes[finding.path]
            if of_file is not None and 0 < span.line <= len(of_file):
                fingerprints[LINE_HASH_KEY] = of_file[span.line - 1]
        result: dict[str, object] = {
            "ruleId": f"basepin/{finding.rule}",
            "ruleIndex": _RULE_INDEX[finding.rule],
            # SARIF's levels are the severities' names.
            "level": finding.severity,
            "message": {"text": one_line(describe(finding))},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(finding.path, root),
                        "region": {
                            "startLine": span.line,
                            "startColumn": span.column,
                            "endLine": span.end_line,
                            "endColumn": span.end_column,
                        },
                    }
                }
            ],
            "partialFingerprints": fingerprints,
        }
        if finding.fix is not None:
            result["fixes"] = [_fix(finding.fix, root)]
        if finding.rule == "vulnerable" and report.vulnerabilities is not None:
            summary = report.vulnerabilities.by_reference.get(finding.reference)
            if summary is not None and summary.ids:
                # Each vulnerability's ID and where to read about it.
                result["properties"] = {
                    "vulnerabilities": [
                        {"id": vid, "helpUri": OSV_URL + quote(vid, safe="")} for vid in summary.ids
                    ]
                }
        yield result


def _fix(edit: Edit, root: str | None) -> dict[str, object]:
    return {
        "description": {"text": one_line(f"Replace with {edit.replacement}")},
        "artifactChanges": [
            {
                "artifactLocation": _artifact(edit.path, root),
                "replacements": [
                    {
                        "deletedRegion": {
                            "startLine": edit.line,
                            "startColumn": edit.column,
                            "endLine": edit.line,
                            "endColumn": edit.end_column,
                        },
                        "insertedContent": {"text": edit.replacement},
                    }
                ],
            }
        ],
    }


def _artifact(path: str, root: str | None) -> dict[str, str]:
    """A relative path is relative to the checkout (%SRCROOT%), and so is an absolute one
    inside `root`; any other absolute path is a file URI."""
    if root is not None and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1 :]
    if path.startswith("/"):
        return {"uri": "file://" + _quote(path)}
    return {"uri": _quote(path), "uriBaseId": SOURCE_ROOT}


def _quote(path: str) -> str:
    # surrogateescape gives back the bytes of a file name that is not valid UTF-8.
    return quote(path, errors="surrogateescape")


def _fingerprint(rule: str, path: str, reference: str, rank: int) -> str:
    key = "\0".join((rule, path, reference, str(rank)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
