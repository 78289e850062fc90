"""Pull-request suggestions: diff lines, suggested text, review planning, and the API calls."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.github_api import GitHubClient
from basepin.github_review import (
    PullRequest,
    ReviewError,
    diff_right_lines,
    markers_in,
    plan_review,
    post_review,
    pull_request_from_event,
    suggested_line,
    workspace_reader,
)
from basepin.model import Edit, Finding, Span
from fixtures.github import (
    Canned,
    FakeGitHub,
    html_page,
    primary_limit,
    redirect_to_login,
    secondary_limit,
)
from fixtures.github import (
    PullRequest as FakePull,
)

DIGEST = "sha256:" + "a" * 64
SHA = "0123456789abcdef0123456789abcdef01234567"


def finding(
    path: str,
    line: int,
    column: int,
    end: int,
    replacement: str | None = None,
    *,
    rule: str = "unpinned",
    reference: str = "python:3.12",
) -> Finding:
    fix = None
    if replacement is not None:
        fix = Edit(path, line, column, end, 0, 0, "", replacement)
    return Finding(
        rule=rule,
        severity="error",
        path=path,
        span=Span(line, column, line, end, 0, 0),
        reference=reference,
        message=f"{reference} has no digest",
        fix=fix,
    )


def edit(column: int, end: int, replacement: str) -> Edit:
    return Edit("Dockerfile", 1, column, end, 0, 0, "", replacement)


# --- diff lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param("@@ -0,0 +1,2 @@\n+FROM a\n+RUN b", {1: "FROM a", 2: "RUN b"}, id="new-file"),
        pytest.param(
            "@@ -1,3 +1,3 @@\n FROM a\n-RUN b\n+RUN c\n RUN d",
            {1: "FROM a", 2: "RUN c", 3: "RUN d"},
            id="changed-line",
        ),
        pytest.param(
            "@@ -1,2 +1,1 @@\n-FROM a\n RUN b\n\\ No newline at end of file",
            {1: "RUN b"},
            id="removed-line-and-no-newline-marker",
        ),
        pytest.param(
            "@@ -2,2 +2,2 @@ FROM a\n-x\n+y\n z\n@@ -20 +20 @@\n-p\n+q",
            {2: "y", 3: "z", 20: "q"},
            id="two-hunks",
        ),
        pytest.param("@@ -1,3 +1,3 @@\n a\n\n b", {1: "a", 2: "", 3: "b"}, id="trimmed-context"),
        pytest.param("", {}, id="binary-file-without-patch"),
        pytest.param(
            "@@ -0,0 +1,2 @@\n+FROM a\fb\r\n+RUN c\r\n", {1: "FROM a\fb", 2: "RUN c"}, id="crlf"
        ),
    ],
)
def test_diff_right_lines(patch: str, expected: dict[int, str]) -> None:
    assert diff_right_lines(patch) == expected


lines_strategy = st.lists(st.sampled_from(["FROM a", "FROM b", "RUN x", "", "  COPY . ."]))


@given(old=lines_strategy, new=lines_strategy, context=st.integers(0, 3))
def test_diff_right_lines_name_the_new_files_lines(
    old: list[str], new: list[str], context: int
) -> None:
    patch = "\n".join(list(difflib.unified_diff(old, new, lineterm="", n=context))[2:])
    right = diff_right_lines(patch)
    assert all(new[number - 1] == text for number, text in right.items())
    added = {
        n
        for tag, _, _, j1, j2 in difflib.SequenceMatcher(None, old, new).get_opcodes()
        if tag in ("replace", "insert")
        for n in range(j1 + 1, j2 + 1)
    }
    assert added <= right.keys()


# --- suggested text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "edits", "expected"),
    [
        pytest.param(
            "FROM python:3.12 AS build",
            [edit(17, 17, "@" + DIGEST)],
            f"FROM python:3.12@{DIGEST} AS build",
            id="insert-digest",
        ),
        pytest.param(
            "    FROM --platform=$X python:latest",
            [edit(31, 37, "3.13")],
            "    FROM --platform=$X python:3.13",
            id="keeps-indentation-and-flags",
        ),
        pytest.param(
            "COPY --from=a:1 --from=b:2 x y",
            [edit(16, 16, "@" + DIGEST), edit(27, 27, "@" + DIGEST)],
            f"COPY --from=a:1@{DIGEST} --from=b:2@{DIGEST} x y",
            id="two-edits-one-line",
        ),
        pytest.param(
            "FROM a:1", [edit(6, 9, "b:2"), edit(8, 9, "3")], None, id="overlapping-edits-refused"
        ),
        pytest.param("FROM a", [edit(9, 10, "x")], None, id="past-the-end"),
        pytest.param("FROM a", [edit(7, 7, "\nRUN x")], None, id="multi-line-replacement"),
        pytest.param(
            "FROM a:1", [edit(7, 9, ":2"), edit(7, 9, ":2")], "FROM a:2", id="duplicate-edit"
        ),
    ],
)
def test_suggested_line(text: str, edits: list[Edit], expected: str | None) -> None:
    assert suggested_line(text, edits) == expected


# --- planning ----------------------------------------------------------------------------------

FILE = ["# syntax=docker/dockerfile:1", "FROM python:3.12 AS build", "RUN make", "FROM alpine"]


def reader(files: dict[str, list[str]]) -> Callable[[str, int], str | None]:
    def read_line(path: str, line: int) -> str | None:
        lines = files.get(path)
        return lines[line - 1] if lines and 0 < line <= len(lines) else None

    return read_line


def test_plan_puts_a_suggestion_on_a_diff_line_and_lists_the_rest() -> None:
    pinned = finding("Dockerfile", 2, 6, 17, "python:3.12@" + DIGEST)
    elsewhere = finding("Dockerfile", 4, 6, 12, "alpine@" + DIGEST, reference="alpine")
    diff = {"Dockerfile": {1: FILE[0], 2: FILE[1], 3: FILE[2]}}
    review = plan_review([pinned, elsewhere], reader({"Dockerfile": FILE}), diff, set())
    assert review is not None
    assert [(c.path, c.line) for c in review.comments] == [("Dockerfile", 2)]
    body = review.comments[0].body
    assert body.startswith("**basepin/unpinned** (error): python:3.12 has no digest\n")
    assert f"```suggestion\nFROM python:3.12@{DIGEST} AS build\n```" in body
    assert "lines this pull request does not change" in review.body
    assert (
        "- `Dockerfile` line 4: **basepin/unpinned** (error): alpine has no digest" in review.body
    )
    assert (review.suggestions, review.listed, review.skipped) == (1, 1, 0)


def test_plan_groups_findings_of_one_line_into_one_comment() -> None:
    text = "FROM python"
    latest = finding("Dockerfile", 1, 6, 12, "python:3.13", rule="latest", reference="python")
    unpinned = finding("Dockerfile", 1, 12, 12, "@" + DIGEST, reference="python")
    review = plan_review(
        [latest, unpinned],
        reader({"Dockerfile": [text]}),
        {"Dockerfile": {1: text}},
        set(),
    )
    assert review is not None
    assert len(review.comments) == 1
    body = review.comments[0].body
    assert "basepin/latest" in body
    assert "basepin/unpinned" in body
    assert f"```suggestion\nFROM python:3.13@{DIGEST}\n```" in body
    assert body.count("<!-- basepin:") == 2


def test_plan_skips_what_an_earlier_review_said() -> None:
    files = {"Dockerfile": FILE}
    diff = {"Dockerfile": {2: FILE[1]}}
    first = plan_review([finding("Dockerfile", 2, 6, 17, "x")], reader(files), diff, set())
    assert first is not None
    posted = {key for c in first.comments for key in _keys(c.body)}
    # The line moved (a line was inserted above it): same finding, same key.
    moved = {"Dockerfile": ["# new", *FILE]}
    again = plan_review(
        [finding("Dockerfile", 3, 6, 17, "x")],
        reader(moved),
        {"Dockerfile": {3: FILE[1]}},
        posted,
    )
    assert again is None


def test_plan_keys_identical_lines_apart() -> None:
    lines = ["FROM python:3.12", "FROM python:3.12"]
    findings = [finding("Dockerfile", n, 6, 17, "p@" + DIGEST) for n in (1, 2)]
    diff = {"Dockerfile": {1: lines[0], 2: lines[1]}}
    review = plan_review(findings, reader({"Dockerfile": lines}), diff, set())
    assert review is not None
    keys = [_keys(c.body) for c in review.comments]
    assert len(keys) == 2
    assert keys[0] != keys[1]


def test_plan_lists_a_line_whose_checkout_differs_from_the_pull_requests_head() -> None:
    # A pull_request checkout is the merge commit: its line 2 may not be the head's line 2.
    diff = {"Dockerfile": {2: "FROM python:3.11 AS build"}}
    review = plan_review(
        [finding("Dockerfile", 2, 6, 17, "x")],
        reader({"Dockerfile": FILE}),
        diff,
        set(),
    )
    assert review is not None
    assert review.comments == ()
    assert review.listed == 1


def test_plan_fences_a_line_holding_backticks() -> None:
    text = "FROM python:3.12 ```"
    review = plan_review(
        [finding("Dockerfile", 1, 6, 17, "python:3.12@" + DIGEST)],
        reader({"Dockerfile": [text]}),
        {"Dockerfile": {1: text}},
        set(),
    )
    assert review is not None
    assert f"````suggestion\nFROM python:3.12@{DIGEST} ```\n````" in review.comments[0].body


def test_plan_without_fix_comments_without_suggestion() -> None:
    review = plan_review(
        [finding("Dockerfile", 2, 6, 17, rule="unknown")],
        reader({"Dockerfile": FILE}),
        {"Dockerfile": {2: FILE[1]}},
        set(),
    )
    assert review is not None
    assert "suggestion" not in review.comments[0].body


def test_plan_caps_the_list_in_the_body() -> None:
    lines = [f"FROM image{n}:1" for n in range(70)]
    findings = [finding("Dockerfile", n + 1, 6, 14, reference=f"image{n}") for n in range(70)]
    review = plan_review(findings, reader({"Dockerfile": lines}), {}, set())
    assert review is not None
    assert review.listed == 50
    assert "… and 20 more: see the job summary." in review.body


def _keys(body: str) -> set[str]:
    return markers_in(body)


# --- reading the workspace and the event ---------------------------------------------------


def test_workspace_reader_leaves_out_bom_and_line_endings(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_bytes(b"\xef\xbb\xbfFROM a\r\nFROM b\x0cc\r\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    read = workspace_reader(tmp_path)
    assert [read("Dockerfile", 1), read("Dockerfile", 2), read("Dockerfile", 3)] == [
        "FROM a",
        "FROM b\x0cc",
        None,
    ]
    assert read("binary", 1) is None
    assert read("missing", 1) is None


@pytest.mark.parametrize(
    ("event", "repository", "message"),
    [
        pytest.param({"pull_request": {"number": 7, "head": {"sha": SHA}}}, "o/r", None, id="ok"),
        pytest.param({"ref": "refs/heads/main"}, "o/r", "not a pull request", id="push-event"),
        pytest.param({"pull_request": {"number": 7}}, "o/r", "no number or head.sha", id="no-head"),
        pytest.param({"pull_request": {}}, "", "GITHUB_REPOSITORY", id="no-repository"),
        pytest.param(None, "o/r", "cannot read the event file", id="not-json"),
    ],
)
def test_pull_request_from_event(
    tmp_path: Path, event: object, repository: str, message: str | None
) -> None:
    path = tmp_path / "event.json"
    path.write_text("{" if event is None else json.dumps(event))
    if message is None:
        assert pull_request_from_event(str(path), repository) == PullRequest("o/r", 7, SHA)
    else:
        with pytest.raises(ReviewError, match=message):
            pull_request_from_event(str(path), repository)


# --- against the local GitHub API --------------------------------------------------------------


def _pull(github_api: FakeGitHub, tmp_path: Path, extra_files: int = 0) -> PullRequest:
    (tmp_path / "Dockerfile").write_text("\n".join(FILE) + "\n")
    patch = (
        "@@ -1,3 +1,3 @@\n "
        + FILE[0]
        + "\n-FROM python:3.11 AS build\n+"
        + FILE[1]
        + "\n "
        + FILE[2]
    )
    files = [
        {"filename": f"docs/{n}.md", "status": "added", "patch": "@@ -0,0 +1 @@\n+x"}
        for n in range(extra_files)
    ]
    files.append({"filename": "Dockerfile", "status": "modified", "patch": patch})
    github_api.add_pull("octo/app", 7, SHA, files)
    return PullRequest("octo/app", 7, SHA)


FINDINGS = [
    finding("Dockerfile", 2, 6, 17, "python:3.12@" + DIGEST),
    finding("Dockerfile", 4, 6, 12, "alpine@" + DIGEST, reference="alpine"),
]


def test_post_review_sends_one_review_then_nothing_on_a_rerun(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _pull(github_api, tmp_path, extra_files=130)  # the files list takes two pages
    outcome = post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert (outcome.posted, outcome.comments, outcome.suggestions, outcome.listed) == (
        True,
        1,
        1,
        1,
    )
    assert outcome.url is not None
    assert outcome.url.startswith("https://github.test/octo/app/pull/7#pullrequestreview-")
    [review] = github_api.accepted_reviews
    assert review["commit_id"] == SHA
    assert review["event"] == "COMMENT"
    assert [(c["path"], c["line"], c["side"]) for c in review["comments"]] == [
        ("Dockerfile", 2, "RIGHT")
    ]
    file_pages = [r for r in github_api.requests if r.path.endswith("/files")]
    assert len(file_pages) == 2
    for request in github_api.requests:
        assert request.path.startswith("/api/v3/repos/octo/app/pulls/7/")
        assert request.headers["Authorization"] == f"Bearer {github_api.token}"
        assert request.headers["Accept"] == "application/vnd.github+json"
        assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"

    again = post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert (again.posted, again.skipped) == (False, 2)
    assert len(github_api.accepted_reviews) == 1


def test_post_review_reports_a_read_only_token_as_denied(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.read_only = True
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert caught.value.denied
    assert "403" in str(caught.value)
    assert "Resource not accessible by integration" in str(caught.value)
    assert github_api.token not in str(caught.value)


@pytest.mark.parametrize(
    ("token", "repository", "status", "denied"),
    [
        pytest.param("ghs_wrong", "octo/app", 401, False, id="bad-token"),
        # Only "Resource not accessible by integration" says the token may not write.
        pytest.param(None, "octo/other", 404, False, id="unknown-pull-request"),
    ],
)
def test_post_review_errors_name_the_status_not_the_token(
    github_api: FakeGitHub,
    tmp_path: Path,
    token: str | None,
    repository: str,
    status: int,
    denied: bool,
) -> None:
    _pull(github_api, tmp_path)
    secret = token or github_api.token
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, PullRequest(repository, 7, SHA), github_api.url, secret)
    assert caught.value.status == status
    assert caught.value.denied is denied
    assert secret not in str(caught.value)


def test_post_review_without_token_says_so(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="no GitHub token"):
        post_review(FINDINGS, tmp_path, PullRequest("o/r", 1, SHA), "http://127.0.0.1:9", "")


def test_post_review_reports_an_unreachable_api(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="unreachable") as caught:
        post_review(FINDINGS, tmp_path, PullRequest("o/r", 1, SHA), "http://127.0.0.1:9", "t")
    assert caught.value.status is None


# --- rate limits ---------------------------------------------------------------------------

NOW = 1_750_000_000.0  # the injected clock, in epoch seconds


class Waits:
    """The injected sleep: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def client(self, api_url: str, token: str) -> GitHubClient:
        return GitHubClient(api_url, token, sleep=self.slept.append, clock=lambda: NOW)


def _requests_to(github_api: FakeGitHub, method: str, what: str) -> list[str]:
    return [
        r.path for r in github_api.requests if r.method == method and r.path.endswith("/" + what)
    ]


@pytest.mark.parametrize("status", [403, 429])
def test_a_primary_rate_limit_waits_for_the_reset(
    github_api: FakeGitHub, tmp_path: Path, status: int
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "files", primary_limit(status, reset=int(NOW) + 30))
    waits = Waits()
    outcome = post_review(
        FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client
    )
    assert outcome.posted
    assert waits.slept == [31.0]  # until after the reset second
    files = [r for r in github_api.requests if r.path.endswith("/files")]
    assert len(files) == 2
    assert files[0].query == files[1].query == {"per_page": ["100"]}
    assert files[0].headers["Authorization"] == files[1].headers["Authorization"]


@pytest.mark.parametrize("status", [403, 429])
@pytest.mark.parametrize(("retry_after", "waited"), [(7, 7.0), (None, 60.0)])
def test_a_secondary_rate_limit_waits_as_asked(
    github_api: FakeGitHub, tmp_path: Path, status: int, retry_after: int | None, waited: float
) -> None:
    pull = _pull(github_api, tmp_path)
    # Creating content is where secondary limits bite: the review itself is sent again.
    github_api.script("POST", "reviews", secondary_limit(status, retry_after))
    waits = Waits()
    outcome = post_review(
        FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client
    )
    assert outcome.posted
    assert waits.slept == [waited]
    posts = [r for r in github_api.requests if r.method == "POST"]
    assert len(posts) == 2
    assert posts[0].body == posts[1].body
    assert len(github_api.accepted_reviews) == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(primary_limit(403, reset=int(NOW) + 3600), id="primary-403"),
        pytest.param(primary_limit(429, reset=int(NOW) + 3600), id="primary-429"),
        pytest.param(secondary_limit(403, 600), id="secondary-403"),
    ],
)
def test_a_rate_limit_past_the_budget_is_reported_not_taken_for_a_read_only_token(
    github_api: FakeGitHub, tmp_path: Path, answer: Canned
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("POST", "reviews", answer)
    waits = Waits()
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client)
    assert waits.slept == []  # no wait that could not end in time
    assert caught.value.rate_limited
    assert not caught.value.denied
    assert caught.value.status == answer.status
    assert "rate limit" in str(caught.value)
    assert "past the 120 s basepin waits for rate limits" in str(caught.value)
    assert github_api.accepted_reviews == []


def test_waits_add_up_within_the_budget(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "comments", secondary_limit(429, 50))
    github_api.script("GET", "reviews", secondary_limit(429, 50))
    github_api.script("POST", "reviews", secondary_limit(429, 50))
    waits = Waits()
    with pytest.raises(ReviewError, match="past the 120 s") as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client)
    assert waits.slept == [50.0, 50.0]
    assert caught.value.rate_limited


def test_a_limit_that_does_not_lift_ends_after_a_few_tries(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "comments", *[secondary_limit(403, 0)] * 10)
    waits = Waits()
    with pytest.raises(ReviewError, match="still rate limited after 4 tries"):
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client)
    assert len(_requests_to(github_api, "GET", "comments")) == 4


def test_the_wait_is_real_time_by_default(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "comments", secondary_limit(429, 1))
    post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    first, second = (r for r in github_api.requests if r.path.endswith("/comments"))
    assert second.at - first.at >= 1.0


def test_a_403_that_is_no_rate_limit_is_not_retried(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.read_only = True
    waits = Waits()
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client)
    assert caught.value.denied
    assert waits.slept == []
    assert len(_requests_to(github_api, "POST", "reviews")) == 1


# --- a review GitHub refuses for a line ----------------------------------------------------

TWO_LINES_PATCH = (
    "@@ -1,4 +1,4 @@\n FROM a\n-FROM python:3.11\n+FROM python:3.12\n"
    " x\n-FROM alpine:3\n+FROM alpine"
)


def _two_line_pull(github_api: FakeGitHub, tmp_path: Path) -> PullRequest:
    (tmp_path / "Dockerfile").write_text("FROM a\nFROM python:3.12\nx\nFROM alpine\n")
    github_api.add_pull(
        "octo/app",
        7,
        SHA,
        [{"filename": "Dockerfile", "status": "modified", "patch": TWO_LINES_PATCH}],
    )
    return PullRequest("octo/app", 7, SHA)


def test_a_line_github_cannot_resolve_moves_into_the_body(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _two_line_pull(github_api, tmp_path)
    github_api.unresolvable = {("Dockerfile", 2)}
    outcome = post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    first, second = (r.body for r in github_api.requests if r.method == "POST")
    assert [c["line"] for c in first["comments"]] == [2, 4]
    # GitHub does not say which line it refused; the diff still shows both: both move.
    assert second["comments"] == []
    assert (outcome.posted, outcome.comments, outcome.moved) == (
        True,
        0,
        ("Dockerfile line 2", "Dockerfile line 4"),
    )
    body = second["body"]
    assert "GitHub would not place 2 comments on their lines (Line could not be resolved)" in body
    assert "`Dockerfile` line 2:" in body
    assert "`Dockerfile` line 4:" in body
    assert "```\nFROM python:3.12@" + DIGEST + "\n```" in body  # shown, not committable
    assert "suggestion" not in body.replace("suggested", "")
    # Every finding is in the review that was posted, and a re-run knows them.
    assert len(markers_in(body)) == 2
    again = post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert (again.posted, again.skipped) == (False, 2)


def test_a_push_in_between_moves_only_the_lines_that_left_the_diff(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _two_line_pull(github_api, tmp_path)

    def push(pull_request: FakePull) -> None:
        # A new commit reverted line 2: only line 4 is still changed.
        pull_request.files[0]["patch"] = "@@ -3,2 +3,2 @@\n x\n-FROM alpine:3\n+FROM alpine"
        github_api.before_review = None

    github_api.before_review = push
    outcome = post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert outcome.moved == ("Dockerfile line 2",)
    assert outcome.comments == 1
    [accepted] = github_api.accepted_reviews
    assert [c["line"] for c in accepted["comments"]] == [4]
    assert "Pull request review thread line must be part of the diff" in accepted["body"]
    assert "`Dockerfile` line 2:" in accepted["body"]
    assert len(_requests_to(github_api, "GET", "files")) == 2  # the diff was read again


def test_a_422_for_something_else_is_reported(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _two_line_pull(github_api, tmp_path)
    with pytest.raises(ReviewError, match="commit_id is not part of the pull request"):
        post_review(
            FINDINGS,
            tmp_path,
            PullRequest(pull.repository, 7, "f" * 40),
            github_api.url,
            github_api.token,
        )
    assert len(_requests_to(github_api, "POST", "reviews")) == 1


# --- answers that are not the API's ----------------------------------------------------------


def test_a_redirect_to_a_sign_in_page_is_named_and_not_followed(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "comments", redirect_to_login(github_api.origin))
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    message = str(caught.value)
    assert caught.value.status == 302
    assert f"a redirect to {github_api.origin}/login: that is not the REST API" in message
    assert "Check GITHUB_API_URL" in message
    assert "s3cr3t" not in message  # the query (a session, a return address) is not shown
    assert not any(r.path == "/login" for r in github_api.requests)


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        pytest.param(
            html_page(200, "Sign in · Example SSO"),
            "answered 200 to GET /api/v3/repos/octo/app/pulls/7/comments with text/html, a page "
            'titled "Sign in · Example SSO"',
            id="sign-in-page",
        ),
        pytest.param(
            html_page(503, "GitHub Enterprise is under maintenance"),
            "answered 503 to GET /api/v3/repos/octo/app/pulls/7/comments with text/html, a page "
            'titled "GitHub Enterprise is under maintenance"',
            id="maintenance-page",
        ),
        pytest.param(
            Canned(200, b"{not json", {"Content-Type": "application/json"}),
            "with application/json (9 bytes), not JSON",
            id="broken-json",
        ),
        pytest.param(
            Canned(502, b"Bad Gateway", {"Content-Type": "text/plain"}),
            "answered 502 to GET /api/v3/repos/octo/app/pulls/7/comments with text/plain",
            id="plain-text-error",
        ),
        pytest.param(
            Canned(200, b"", {}),
            "with no content type (0 bytes), not JSON",
            id="empty",
        ),
    ],
)
def test_an_answer_that_is_not_json_says_what_came(
    github_api: FakeGitHub, tmp_path: Path, answer: Canned, shown: str
) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script("GET", "comments", answer)
    with pytest.raises(ReviewError) as caught:
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)
    assert shown in str(caught.value)
    assert caught.value.status == answer.status
    assert not caught.value.denied


def test_an_answer_past_the_size_cap_is_refused(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _pull(github_api, tmp_path, extra_files=30)

    def small(api_url: str, token: str) -> GitHubClient:
        return GitHubClient(api_url, token, max_answer=1000)

    with pytest.raises(ReviewError, match="is larger than 1000 bytes"):
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=small)


def test_a_list_of_something_else_is_refused(github_api: FakeGitHub, tmp_path: Path) -> None:
    pull = _pull(github_api, tmp_path)
    github_api.script(
        "GET", "comments", Canned(200, b'["a"]', {"Content-Type": "application/json"})
    )
    with pytest.raises(ReviewError, match="did not answer with a list of objects"):
        post_review(FINDINGS, tmp_path, pull, github_api.url, github_api.token)


def test_a_rate_limit_without_json_is_still_waited_out(
    github_api: FakeGitHub, tmp_path: Path
) -> None:
    pull = _pull(github_api, tmp_path)
    answer = Canned(429, b"Too Many Requests", {"Content-Type": "text/plain", "retry-after": "3"})
    github_api.script("GET", "reviews", answer)
    waits = Waits()
    outcome = post_review(
        FINDINGS, tmp_path, pull, github_api.url, github_api.token, client=waits.client
    )
    assert outcome.posted
    assert waits.slept == [3.0]
