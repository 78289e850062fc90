"""`basepin tags`: a repository's tags as text or JSON.

Tag names and digests come from the registry or the Hub API as they sent them: the text
shows them escaped (see `basepin.escape`), the JSON holds them exact in escaped JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from basepin.escape import json_text, not_a_command, shown
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
        return json_text(json.dumps({"version": 1, "tags": rows}, indent=2)) + "\n"
    names = [shown(t.name) for t in tags]
    width = max((len(name) for name in names), default=0)
    lines = []
    for name, t in zip(names, tags, strict=True):
        digest = shown(t.digest) if t.digest else "-"
        pushed = t.pushed.strftime("%Y-%m-%d") if t.pushed else "-"
        size = human_size(t.size) if t.size is not None else "-"
        line = f"{name:<{width}}  {digest:<71}  {pushed:<10}  {size}".rstrip()
        lines.append(not_a_command(line))
    return "".join(line + "\n" for line in lines)
