"""Pull-request suggestions: one review whose comments carry ```suggestion blocks.

Planning is pure (`plan_review`): findings, the text of the checked-out files, the lines the pull
request's diff shows and the markers of earlier comments go in; the review to post comes out.
`GitHubClient` is the only code here that talks to the API.

A comment can only sit on a line of the diff's RIGHT side (added or context lines); other
findings are listed in the review body. Each finding carries a hidden marker
`<!-- basepin:KEY -->` whose key is stable across runs (path, rule, reference and the line's
text, not its number), so a re-run skips what an earlier review already said.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from basepin.errors import BasepinError
from basepin.model import Edit, Finding
from basepin.report import plural
from basepin.report.markdown import code, escape

API_VERSION = "2022-11-28"
# The review body stays readable (and far below GitHub's 65,536 characters).
MAX_LISTED = 50
# Bounds on paging: GitHub lists at most 3,000 files of a pull request (30 pages of 100).
MAX_PAGES = 100

_MARKER = re.compile(r"<!-- basepin:([0-9a-f]{16}(?:-[0-9]+)?) -->")
_HUNK = re.compile(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


class ReviewError(BasepinError):
    """The review could not be read or posted; the check's own verdict stands."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def denied(self) -> bool:
        """The token may not write reviews (403), or may not see the pull request (404)."""
        return self.status in (403, 404)


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
    """What to post: `comments` on diff lines, the other findings listed in `body`."""

    body: str
    comments: tuple[ReviewComment, ...]
    suggestions: int  # comments that carry a suggestion
    listed: int  # findings listed in the body
    skipped: int  # findings an earlier review already carries

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
    suggestions = sum(1 for comment in comments if "suggestion\n" in comment.body)
    return Review(
        body=_review_body(len(comments), suggestions, outside),
        comments=comments,
        suggestions=suggestions,
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


def _review_body(comments: int, suggestions: int, outside: list[_Item]) -> str:
    parts = []
    if comments:
        parts.append(
            f"basepin commented on {plural(comments, 'line')} this pull request changes "
            f"({suggestions} with a suggested edit you can commit)."
        )
    if outside:
        parts.append("basepin findings on lines this pull request does not change:")
        parts.append(
            "\n".join(
                f"- {code(item.path)} line {item.line}: {_describe(item.finding)} "
                f"<!-- basepin:{item.key} -->"
                for item in outside[:MAX_LISTED]
            )
        )
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


class GitHubClient:
    """The few REST calls a review needs; the token goes only to the API's own origin."""

    def __init__(self, api_url: str, token: str) -> None:
        if not token:
            raise ReviewError("no GitHub token: set the github-token input")
        self._base = httpx.URL(api_url.rstrip("/") + "/")
        self._client = httpx.Client(
            base_url=self._base,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "basepin",
            },
            timeout=30.0,
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def pages(self, path: str) -> Iterator[Any]:
        """Every item of a paginated list, following `Link: rel="next"` on the same origin."""
        url: httpx.URL | str = path.lstrip("/")
        params: dict[str, int] | None = {"per_page": 100}
        for _ in range(MAX_PAGES):
            response = self._request("GET", url, params=params)
            items = response.json()
            if not isinstance(items, list):
                raise ReviewError(f"GitHub API: GET {path} did not answer with a list")
            yield from items
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url, params = httpx.URL(following), None
            if (url.scheme, url.host, url.port) != (
                self._base.scheme,
                self._base.host,
                self._base.port,
            ):
                raise ReviewError(f"GitHub API: GET {path} pages to another origin")
        raise ReviewError(f"GitHub API: GET {path} has more than {MAX_PAGES} pages")

    def post(self, path: str, payload: Mapping[str, object]) -> Any:
        return self._request("POST", path.lstrip("/"), json=payload).json()

    def _request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ReviewError(f"GitHub API unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise ReviewError(
                f"GitHub API answered {response.status_code} to {method} "
                f"{response.request.url.path}: {_api_message(response)}",
                response.status_code,
            )
        return response


def _api_message(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(document, dict):
        return response.reason_phrase
    message = str(document.get("message", response.reason_phrase))
    errors = document.get("errors")
    if isinstance(errors, list) and errors:
        message += " (" + "; ".join(str(e) for e in errors) + ")"
    return message


@dataclass(frozen=True)
class Outcome:
    posted: bool
    comments: int
    suggestions: int
    listed: int
    skipped: int
    url: str | None = None


def post_review(
    findings: Iterable[Finding], workspace: Path, pull: PullRequest, api_url: str, token: str
) -> Outcome:
    """Read the pull request's diff and earlier comments; post one review if anything is new.

    Finding paths are relative to `workspace` (the checkout), with forward slashes.
    """
    findings = list(findings)
    prefix = f"repos/{pull.repository}/pulls/{pull.number}"
    with GitHubClient(api_url, token) as github:
        diff = {
            item["filename"]: diff_right_lines(item.get("patch") or "")
            for item in github.pages(f"{prefix}/files")
            if item.get("status") != "removed"
        }
        posted: set[str] = set()
        for comment in github.pages(f"{prefix}/comments"):
            posted |= markers_in(str(comment.get("body") or ""))
        for review in github.pages(f"{prefix}/reviews"):
            posted |= markers_in(str(review.get("body") or ""))
        review = plan_review(findings, workspace_reader(workspace), diff, posted)
        if review is None:
            return Outcome(False, 0, 0, 0, len(findings))
        answer = github.post(f"{prefix}/reviews", review.payload(pull.head_sha))
    url = answer.get("html_url") if isinstance(answer, dict) else None
    return Outcome(
        True, len(review.comments), review.suggestions, review.listed, review.skipped, url
    )
