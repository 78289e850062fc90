"""Pull-request suggestions: one review whose comments carry ```suggestion blocks.

Planning is pure (`plan_review`): findings, the text of the checked-out files, the lines the pull
request's diff shows and the markers of earlier comments go in; the review to post comes out.
`post_review` talks to the API through `basepin.github_api.GitHubClient`.

A comment can only sit on a line of the diff's RIGHT side (added or context lines); other
findings are listed in the review body. Each finding carries a hidden marker
`<!-- basepin:KEY -->` whose key is stable across runs (path, rule, reference and the line's
text, not its number), so a re-run skips what an earlier review already said.

GitHub refuses a whole review (422) when one comment's line is not in its diff, and does not
say which. Then the diff is read again (a push may have moved it) and the comments no longer on
it move into the review body; if all still are, all move. The review is posted again, so no
finding is lost, and its body says which suggestions moved.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from basepin.github_api import GitHubClient, GitHubError
from basepin.model import Edit, Finding
from basepin.report import plural
from basepin.report.markdown import code, escape

# The review body stays readable (and far below GitHub's 65,536 characters).
MAX_LISTED = 50
# Characters of the review body the moved suggestions may take before they are shown shorter.
MAX_MOVED_TEXT = 40_000
# What GitHub's 422 says when a comment's line or path is not in its diff of the pull request.
_OFF_THE_DIFF = (
    "must be part of the diff",
    "could not be resolved",  # "Line could not be resolved", "Path could not be resolved"
    "diff hunk can't be blank",
    "must be part of the same hunk",
)

_MARKER = re.compile(r"<!-- basepin:([0-9a-f]{16}(?:-[0-9]+)?) -->")
_HUNK = re.compile(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")

# The review could not be read or posted; the check's own verdict stands.
ReviewError = GitHubError


@dataclass(frozen=True)
class PullRequest:
    repository: str  # owner/name
    number: int
    head_sha: str


def pull_request_from_event(event_path: str | None, repository: str | None) -> PullRequest:
    """The pull request a `pull_request` (or `pull_request_target`) event is about."""
    if not repository or "/" not in repository:
        raise ReviewError("GITHUB_REPOSITORY is not set to owner/name")
    if not event_path:
        raise ReviewError("GITHUB_EVENT_PATH is not set")
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewError(f"cannot read the event file {event_path}: {exc}") from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    if not isinstance(pull, dict):
        raise ReviewError("the workflow event is not a pull request")
    number, head = pull.get("number"), pull.get("head")
    sha = head.get("sha") if isinstance(head, dict) else None
    if not isinstance(number, int) or not isinstance(sha, str):
        raise ReviewError(f"{event_path}: pull_request has no number or head.sha")
    return PullRequest(repository, number, sha)


def diff_right_lines(patch: str) -> dict[int, str]:
    """The RIGHT-side line numbers of a unified-diff patch (added and context lines), with text."""
    lines: dict[int, str] = {}
    number = 0
    for text in _lines(patch):
        hunk = _HUNK.match(text)
        if hunk:
            number = int(hunk.group(1))
        elif number and text[:1] in ("+", " "):
            lines[number] = text[1:]
            number += 1
        elif number and text == "":  # a context line whose single space was trimmed
            lines[number] = ""
            number += 1
    return lines


def _lines(text: str) -> list[str]:
    """Lines as git counts them: split at LF only (a CR before it is dropped)."""
    if not text:
        return []
    return [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")]


def markers_in(text: str) -> set[str]:
    return set(_MARKER.findall(text))


@dataclass(frozen=True)
class ReviewComment:
    path: str
    line: int
    body: str


@dataclass(frozen=True)
class Review:
    """What to post: `comments` on diff lines, the other findings listed in the body."""

    comments: tuple[ReviewComment, ...]
    listing: str  # the findings on lines the pull request does not change, as Markdown
    listed: int  # findings listed in the body
    skipped: int  # findings an earlier review already carries
    moved: tuple[ReviewComment, ...] = ()  # comments GitHub would not place, shown in the body
    refusal: str = ""  # what GitHub said when it refused them

    @property
    def suggestions(self) -> int:
        """Comments that carry a suggestion."""
        return sum(1 for comment in self.comments if _SUGGESTION.search(comment.body))

    @property
    def body(self) -> str:
        parts = []
        if self.comments:
            parts.append(
                f"basepin commented on {plural(len(self.comments), 'line')} this pull request "
                f"changes ({self.suggestions} with a suggested edit you can commit)."
            )
        if self.moved:
            parts.append(
                f"GitHub would not place {plural(len(self.moved), 'comment')} on "
                f"{'its line' if len(self.moved) == 1 else 'their lines'} "
                f"({escape(self.refusal)}), so "
                f"{'it is' if len(self.moved) == 1 else 'they are'} here:"
            )
            used = 0
            for comment in self.moved:
                # Outside a line comment a suggestion cannot be committed: show it as code.
                text = _SUGGESTION.sub(r"\1", comment.body)
                if used + len(text) > MAX_MOVED_TEXT:
                    text = _FENCED.sub("", text)
                used += len(text)
                parts.append(f"{code(comment.path)} line {comment.line}:\n\n{text}")
        if self.listing:
            parts.append(self.listing)
        return "\n\n".join(parts)

    def moving(self, comments: Iterable[ReviewComment], refusal: str) -> Review:
        """The review with `comments` moved from their lines into the body."""
        leaving = set(comments)
        return replace(
            self,
            comments=tuple(c for c in self.comments if c not in leaving),
            moved=(*self.moved, *(c for c in self.comments if c in leaving)),
            refusal=refusal,
        )

    def payload(self, head_sha: str) -> dict[str, object]:
        return {
            "commit_id": head_sha,
            "event": "COMMENT",
            "body": self.body,
            "comments": [
                {"path": c.path, "line": c.line, "side": "RIGHT", "body": c.body}
                for c in self.comments
            ],
        }


_SUGGESTION = re.compile(r"^(`{3,})suggestion$", re.MULTILINE)
_FENCED = re.compile(r"\n\n(`{3,})\n.*?\n\1(?=\n)", re.DOTALL)


@dataclass(frozen=True)
class _Item:
    finding: Finding
    path: str  # relative to the workspace, with forward slashes
    line: int  # where the comment goes: the fix's line, else the finding's
    key: str


def plan_review(
    findings: Iterable[Finding],
    read_line: Callable[[str, int], str | None],
    diff: Mapping[str, Mapping[int, str]],
    posted: set[str],
) -> Review | None:
    """The review that says what no earlier one did, or None when nothing new remains.

    `read_line(path, line)` gives a line of a checked-out file (None when it cannot be read);
    `diff` maps each changed file to its RIGHT-side lines and their text; `posted` holds the
    keys of earlier markers. Findings on a diff line whose text is the checked-out text are
    grouped per line into one comment, with a suggestion when their fixes apply; the rest are
    listed in the body.
    """
    items = list(_items(findings, read_line))
    fresh = [item for item in items if item.key not in posted]
    by_line: dict[tuple[str, int], list[_Item]] = {}
    outside: list[_Item] = []
    for item in fresh:
        text = read_line(item.path, item.line)
        if text is not None and diff.get(item.path, {}).get(item.line) == text:
            by_line.setdefault((item.path, item.line), []).append(item)
        else:
            outside.append(item)
    if not by_line and not outside:
        return None
    comments = tuple(
        ReviewComment(path, line, _comment_body(group, read_line(path, line) or ""))
        for (path, line), group in by_line.items()
    )
    return Review(
        comments=comments,
        listing=_listing(outside),
        listed=min(len(outside), MAX_LISTED),
        skipped=len(items) - len(fresh),
    )


def _items(
    findings: Iterable[Finding], read_line: Callable[[str, int], str | None]
) -> Iterator[_Item]:
    seen: dict[str, int] = {}
    for finding in findings:
        path = finding.path
        line = finding.fix.line if finding.fix else finding.span.line
        text = read_line(path, line) or ""
        digest = hashlib.sha256(
            "\n".join((path, finding.rule, finding.reference, text.strip())).encode()
        ).hexdigest()[:16]
        # The same finding on two identical lines of a file: number the later ones.
        seen[digest] = seen.get(digest, 0) + 1
        key = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        yield _Item(finding, path, line, key)


def suggested_line(text: str, edits: Iterable[Edit]) -> str | None:
    """`text` with every edit applied (columns are 1-based characters, end exclusive).

    None when no edit applies: an edit past the line's end is dropped, and two edits that
    overlap are both dropped, since which one is right cannot be told.
    """
    spans = sorted(
        {(e.column, e.end_column, e.replacement) for e in edits if "\n" not in e.replacement}
    )
    usable = [
        (start, end, new)
        for start, end, new in spans
        if 1 <= start <= end <= len(text) + 1
        and not any(o != (start, end, new) and o[0] < end and start < o[1] for o in spans)
    ]
    if not usable:
        return None
    for start, end, new in reversed(usable):
        text = text[: start - 1] + new + text[end - 1 :]
    return text


def _comment_body(group: list[_Item], text: str) -> str:
    parts = [_describe(item.finding) for item in group]
    new = suggested_line(text, (item.finding.fix for item in group if item.finding.fix))
    if new is not None and new != text:
        fence = "`" * max(3, _longest_backtick_run(new) + 1)
        parts.append(f"{fence}suggestion\n{new}\n{fence}")
    markers = "\n".join(f"<!-- basepin:{item.key} -->" for item in group)
    return "\n\n".join(parts) + "\n" + markers


def _listing(outside: list[_Item]) -> str:
    if not outside:
        return ""
    parts = [
        "basepin findings on lines this pull request does not change:",
        "\n".join(
            f"- {code(item.path)} line {item.line}: {_describe(item.finding)} "
            f"<!-- basepin:{item.key} -->"
            for item in outside[:MAX_LISTED]
        ),
    ]
    if len(outside) > MAX_LISTED:
        parts.append(f"… and {len(outside) - MAX_LISTED} more: see the job summary.")
    return "\n\n".join(parts)


def _describe(finding: Finding) -> str:
    # Messages quote Dockerfile text: escaped, it cannot turn into markup or a marker.
    return f"**basepin/{finding.rule}** ({finding.severity}): {escape(finding.message)}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def workspace_reader(workspace: Path) -> Callable[[str, int], str | None]:
    """Reads lines of checked-out files (UTF-8, a BOM and line endings left out)."""
    cache: dict[str, list[str] | None] = {}

    def read_line(path: str, line: int) -> str | None:
        if path not in cache:
            try:
                data = (workspace / path).read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                cache[path] = None
            else:
                cache[path] = _lines(data)
        lines = cache[path]
        return lines[line - 1] if lines is not None and 0 < line <= len(lines) else None

    return read_line


@dataclass(frozen=True)
class Outcome:
    posted: bool
    comments: int
    suggestions: int
    listed: int
    skipped: int
    url: str | None = None
    moved: tuple[str, ...] = ()  # `path line N` of the comments that moved into the body


def post_review(
    findings: Iterable[Finding],
    workspace: Path,
    pull: PullRequest,
    api_url: str,
    token: str,
    *,
    client: Callable[[str, str], GitHubClient] = GitHubClient,
) -> Outcome:
    """Read the pull request's diff and earlier comments; post one review if anything is new.

    Finding paths are relative to `workspace` (the checkout), with forward slashes.
    """
    findings = list(findings)
    prefix = f"repos/{pull.repository}/pulls/{pull.number}"
    with client(api_url, token) as github:
        posted: set[str] = set()
        for comment in github.pages(f"{prefix}/comments"):
            posted |= markers_in(str(comment.get("body") or ""))
        for earlier in github.pages(f"{prefix}/reviews"):
            posted |= markers_in(str(earlier.get("body") or ""))
        review = plan_review(findings, workspace_reader(workspace), _diff(github, prefix), posted)
        if review is None:
            return Outcome(False, 0, 0, 0, len(findings))
        while True:
            try:
                answer = github.post(f"{prefix}/reviews", review.payload(pull.head_sha))
                break
            except GitHubError as exc:
                refusal = _off_the_diff(exc)
                if refusal is None or not review.comments:
                    raise
                review = review.moving(_refused(review, _diff(github, prefix)), refusal)
    url = answer.get("html_url") if isinstance(answer, dict) else None
    return Outcome(
        True,
        len(review.comments),
        review.suggestions,
        review.listed,
        review.skipped,
        url if isinstance(url, str) else None,
        tuple(f"{c.path} line {c.line}" for c in review.moved),
    )


def _diff(github: GitHubClient, prefix: str) -> dict[str, dict[int, str]]:
    """The RIGHT-side lines of each file the pull request changes, as GitHub lists them now."""
    diff = {}
    for item in github.pages(f"{prefix}/files"):
        name, patch = item.get("filename"), item.get("patch")
        if isinstance(name, str) and item.get("status") != "removed":
            diff[name] = diff_right_lines(patch if isinstance(patch, str) else "")
    return diff


def _off_the_diff(error: GitHubError) -> str | None:
    """GitHub's words when a 422 refuses a review for a comment's line, else None."""
    if error.status != 422:
        return None
    words = [d for d in error.details if any(w in d.lower() for w in _OFF_THE_DIFF)]
    return "; ".join(words) if words else None


def _refused(review: Review, diff: Mapping[str, Mapping[int, str]]) -> list[ReviewComment]:
    """The comments to move: those no longer on the diff, or every one when all still are
    (GitHub's answer does not say which it refused)."""
    gone = [c for c in review.comments if c.line not in diff.get(c.path, {})]
    return gone or list(review.comments)
