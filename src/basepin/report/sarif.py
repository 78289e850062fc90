"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One rule descriptor per rule of the catalogue (`basepin/<id>`), one result per finding with
its region and, where there is one, the fix as a replacement. `partialFingerprints` hash the
rule, path, reference and the finding's rank among its twins, not the line, so code scanning
keeps one alert per problem while lines move. References that could not be checked are tool
execution notifications, and make `executionSuccessful` false: a green run would be a lie.
Message texts are escaped as the text report escapes them (see `basepin.escape`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from basepin.catalog import RULES, RuleInfo
from basepin.escape import json_text
from basepin.model import Edit, Report
from basepin.report import describe, head, incomplete_message, one_line, parts, sorted_findings

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "basepin/v1"

_RULE_INDEX = {rule_id: index for index, rule_id in enumerate(RULES)}


def render(report: Report, *, tool_version: str) -> str:
    return "".join(chunks(head(report), parts(report), tool_version=tool_version))


def chunks(run: Report, files: Iterable[Report], *, tool_version: str) -> Iterator[str]:
    """`render` a result at a time from the run's head and its parts (see `basepin.report`):
    the document is laid out with an empty `results`, and the results are written into it."""
    invocation: dict[str, object] = {
        "executionSuccessful": not run.incomplete,
        "toolExecutionNotifications": [
            {
                "level": "warning",
                "message": {"text": one_line(incomplete_message(unresolved))},
                "descriptor": {"id": "basepin/incomplete"},
            }
            for unresolved in run.incomplete
        ],
    }
    described = {
        "tool": {
            "driver": {
                "name": "basepin",
                "version": tool_version,
                "rules": [_descriptor(info) for info in RULES.values()],
            }
        },
        "invocations": [invocation],
        # Columns count characters, as Span and Edit do.
        "columnKind": "unicodeCodePoints",
        "results": [],
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [described]}
    head, tail = json_text(json.dumps(document, indent=2)).split('"results": []')
    results = (result for part in files for result in _results(part))
    first = next(results, None)
    if first is None:
        yield head + '"results": []' + tail + "\n"
        return
    yield head + '"results": [\n' + _indented(first)
    for result in results:
        yield ",\n" + _indented(result)
    yield "\n" + _RESULTS_INDENT[:-2] + "]" + tail + "\n"


# Where a result stands in the document: runs[0].results[i].
_RESULTS_INDENT = " " * 8


def _indented(result: dict[str, object]) -> str:
    """One result as `json.dumps(document, indent=2)` would write it in its place."""
    text = json_text(json.dumps(result, indent=2))
    return _RESULTS_INDENT + text.replace("\n", "\n" + _RESULTS_INDENT)


def _descriptor(info: RuleInfo) -> dict[str, object]:
    fix = "" if info.fix == "none" else f"\n\nFix: {info.fix}."
    return {
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


def _results(report: Report) -> Iterator[dict[str, object]]:
    # Twins share a path, so counting them within one file's part is counting them all.
    twins: Counter[tuple[str, str, str]] = Counter()
    for finding in sorted_findings(report):
        twin_key = (finding.rule, finding.path, finding.reference)
        twins[twin_key] += 1
        span = finding.span
        result: dict[str, object] = {
            "ruleId": f"basepin/{finding.rule}",
            "ruleIndex": _RULE_INDEX[finding.rule],
            # SARIF's levels are the severities' names.
            "level": finding.severity,
            "message": {"text": one_line(describe(finding))},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _artifact(finding.path),
                        "region": {
                            "startLine": span.line,
                            "startColumn": span.column,
                            "endLine": span.end_line,
                            "endColumn": span.end_column,
                        },
                    }
                }
            ],
            "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(*twin_key, twins[twin_key])},
        }
        if finding.fix is not None:
            result["fixes"] = [_fix(finding.fix)]
        yield result


def _fix(edit: Edit) -> dict[str, object]:
    return {
        "description": {"text": one_line(f"Replace with {edit.replacement}")},
        "artifactChanges": [
            {
                "artifactLocation": _artifact(edit.path),
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


def _artifact(path: str) -> dict[str, str]:
    """A relative path is relative to the checkout (%SRCROOT%); an absolute one a file URI."""
    if path.startswith("/"):
        return {"uri": "file://" + _quote(path)}
    return {"uri": _quote(path), "uriBaseId": "%SRCROOT%"}


def _quote(path: str) -> str:
    # surrogateescape gives back the bytes of a file name that is not valid UTF-8.
    return quote(path, errors="surrogateescape")


def _fingerprint(rule: str, path: str, reference: str, rank: int) -> str:
    key = "\0".join((rule, path, reference, str(rank)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
