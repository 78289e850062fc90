"""The `basepin: ignore[...]` comment as every kind of file writes it after its comment mark:
which rules it silences, and what is wrong with the names it gives.

Pure: standard library only, so the Dockerfile reader's start-up does not grow.
"""

from __future__ import annotations

import re

from basepin.model import RULE_IDS

# Compiled on the first comment (re caches it), not at import: most runs read few comments.
_IGNORE = r"\s*basepin\s*:\s*ignore\b(?:\s*\[([^\]]*)\])?"
_KNOWN = frozenset(RULE_IDS) | {"*"}
NONE_IGNORED: frozenset[str] = frozenset()


def read_ignore(comment: str) -> tuple[frozenset[str], str | None]:
    """The rules a comment (the text after its `#`) silences, `*` for every rule, and what to
    say about names it gets wrong (None when it gets none wrong). A comment that is no ignore
    silences nothing."""
    match = re.match(_IGNORE, comment)
    if match is None:
        return NONE_IGNORED, None
    if match.group(1) is None:
        return frozenset({"*"}), None
    named = {part.strip() for part in match.group(1).split(",")} - {""}
    unknown = named - _KNOWN
    complaint = None
    if unknown or not named:
        what = f"unknown rule {', '.join(sorted(unknown))}" if unknown else "no rule"
        complaint = f"{what} in basepin: ignore[...]; rules are {', '.join(RULE_IDS)}"
    return frozenset(named & _KNOWN), complaint
