"""`basepin tags`: a repository's tags as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from basepin.model import TagInfo
from basepin.report import iso_utc
from basepin.report.markdown import human_size


def render_tags(tags: Sequence[TagInfo], fmt: str) -> str:
    if fmt == "json":
        rows = [
            {
                "name": t.name,
                "digest": t.digest,
                "pushed": iso_utc(t.pushed) if t.pushed else None,
                "size": t.size,
            }
            for t in tags
        ]
        return json.dumps({"version": 1, "tags": rows}, indent=2) + "\n"
    width = max((len(t.name) for t in tags), default=0)
    lines = []
    for t in tags:
        pushed = t.pushed.strftime("%Y-%m-%d") if t.pushed else "-"
        size = human_size(t.size) if t.size is not None else "-"
        lines.append(f"{t.name:<{width}}  {t.digest or '-':<71}  {pushed:<10}  {size}".rstrip())
    return "".join(line + "\n" for line in lines)
