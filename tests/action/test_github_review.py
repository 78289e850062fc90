"""Pull-request suggestions: diff lines, suggested text, review planning, and the API calls."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basepin.github_review import (
    PullRequest,
    ReviewError,
    diff_right_lines,
    plan_review,
    post_review,
    pull_request_from_event,
    suggested_line,
    workspace_reader,
)
from basepin.model import Edit, Finding, Span
from fixtures.github import FakeGitHub

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
    from basepin.github_review import markers_in

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
        pytest.param(None, "octo/other", 404, True, id="unknown-pull-request"),
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
