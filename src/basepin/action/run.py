"""The Action's one step: run basepin once to JSON, then tell the runner what it found.

From the JSON report come the annotations (workflow commands on stdout), the job summary,
the step outputs, the SARIF file when asked, and in `suggest` mode one pull-request review.
The exit code is basepin's: 0 clean, 1 findings at or above fail-on, 2 usage or configuration
error, 3 incomplete. In `fix` mode findings left after fixing do not fail the step, so a later
step can still propose the change.

The Docker Hub token is masked before anything else is printed. What basepin itself prints (its text
report, registry messages) is echoed into the log with workflow commands stopped; the step's
own commands are escaped as the Actions toolkit escapes them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from basepin import __version__
from basepin.action.inputs import Inputs, env_name, read_inputs
from basepin.action.paths import relative_report
from basepin.action.workflow import (
    append,
    command,
    commands_stopped,
    format_outputs,
    mask_commands,
)
from basepin.errors import BasepinError, UsageError
from basepin.escape import shown
from basepin.model import Report
from basepin.report import plural, tally

TYPE_CHECKING = False
if TYPE_CHECKING:
    from basepin.discover import Named


@dataclass(frozen=True)
class Runner:
    """What the Actions runner tells a step through its environment."""

    workspace: Path
    temp: Path
    output: str | None
    summary: str | None
    event_path: str | None
    repository: str | None
    api_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runner:
        return cls(
            workspace=Path(environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve(),
            temp=Path(environ.get("RUNNER_TEMP") or tempfile.gettempdir()),
            output=environ.get("GITHUB_OUTPUT"),
            summary=environ.get("GITHUB_STEP_SUMMARY"),
            event_path=environ.get("GITHUB_EVENT_PATH"),
            repository=environ.get("GITHUB_REPOSITORY"),
            api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
        )


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    # The GitHub token, `github.token` or a secret, is masked by the runner already.
    for line in mask_commands(environ.get(env_name("dockerhub-token"), "").strip()):
        _say(line)
    try:
        inputs = read_inputs(environ)
    except UsageError as exc:
        _say(command("error", str(exc), title="basepin"))
        return 2
    runner = Runner.from_env(environ)
    child_env = _child_env(environ, inputs)

    changed = False
    if inputs.mode == "fix":
        before = _snapshot(inputs.paths, inputs.config, runner.workspace)
        fixed = _basepin(fix_arguments(inputs), runner, child_env)
        # 1 and 3 may still have written fixes; the check below gives the verdict.
        if fixed not in (0, 1, 3):
            _say(command("error", "basepin fix did not finish: see the log above", title="basepin"))
            return fixed
        changed = _snapshot(inputs.paths, inputs.config, runner.workspace) != before

    report_dir = runner.temp / "basepin"
    report_dir.mkdir(parents=True, exist_ok=True)
    report_path = report_dir / "report.json"
    report_path.unlink(missing_ok=True)
    code = _basepin(check_arguments(inputs, report_path), runner, child_env)
    report = _load(report_path) if code in (0, 1, 3) else None
    if report is None:
        _say(command("error", "basepin check did not finish: see the log above", title="basepin"))
        return code if code not in (0, 1, 3) else 2
    report = relative_report(report, runner.workspace)

    review_note = None
    show_annotations, show_summary = inputs.annotations, inputs.summary
    if inputs.mode == "suggest":
        review_note, posted = _suggest(report, inputs, runner)
        # Without a review the findings must still show somewhere.
        show_annotations = show_annotations or not posted
        show_summary = show_summary or not posted

    if show_annotations:
        from basepin.report import github

        _say(github.render(report), end="")
    sarif_path = runner.workspace / inputs.sarif if inputs.sarif else None
    if show_summary and runner.summary:
        _write_summary(runner.summary, report, review_note, report_path, sarif_path)

    outputs = _outputs(report, report_path)
    if sarif_path is not None:
        outputs["sarif"] = str(_write_sarif(report, sarif_path, runner.workspace))
    if inputs.mode == "fix":
        outputs["changed"] = "true" if changed else "false"
    append(runner.output, format_outputs(outputs))
    return _verdict(code, report, inputs)


def _outputs(report: Report, report_path: Path) -> dict[str, str]:
    return {
        "findings": str(len(report.findings)),
        "errors": str(sum(1 for f in report.findings if f.severity == "error")),
        "incomplete": str(len(report.incomplete)),
        "report": str(report_path),
    }


def _write_summary(
    path: str, report: Report, note: str | None, report_path: Path, sarif_path: Path | None
) -> None:
    """Append the summary and the review note, within the runner's 1 MiB for the step's file
    counted in bytes as written (UTF-8, this system's line endings)."""
    from basepin.report import markdown

    newline = os.linesep
    tail = markdown.encoded(f"\n{note}\n", newline) if note else b""
    try:
        held = Path(path).stat().st_size
    except OSError:
        held = 0
    full_report = f"the JSON report {markdown.code(str(report_path))} (the step's `report` output)"
    if sarif_path is not None:
        full_report += f" and the SARIF file {markdown.code(str(sarif_path))}"
    summary = markdown.render(
        report,
        now=datetime.now(timezone.utc),
        limit=markdown.SUMMARY_LIMIT - held - len(tail),
        newline=newline,
        full_report=full_report,
    )
    data = markdown.encoded(summary, newline) + tail
    if held + len(data) > markdown.SUMMARY_LIMIT:
        _say(
            command(
                "warning",
                f"no job summary: the step's summary file already holds {held} bytes of the "
                f"{markdown.SUMMARY_LIMIT} GitHub takes. See the annotations and the report.",
                title="basepin",
            )
        )
        return
    with Path(path).open("ab") as stream:
        stream.write(data)


def _write_sarif(report: Report, path: Path, workspace: Path) -> Path:
    from basepin.report import sarif

    def line_hashes(name: str) -> list[str] | None:
        from basepin.report.fingerprints import line_hashes

        try:
            return line_hashes((workspace / name).read_bytes())
        except OSError:
            return None

    path.parent.mkdir(parents=True, exist_ok=True)
    text = sarif.render(
        report, tool_version=__version__, line_hashes=line_hashes, source_root=str(workspace)
    )
    path.write_text(text, encoding="utf-8")
    return path


def check_arguments(inputs: Inputs, report_path: Path) -> list[str]:
    arguments = ["check", "--format", "json", "--output", str(report_path)]
    if inputs.offline:
        arguments.append("--offline")
    if inputs.fail_on is not None:
        arguments += ["--fail-on", inputs.fail_on]
    if inputs.max_age is not None:
        arguments += ["--max-age", str(inputs.max_age)]
    return [*arguments, *_shared_options(inputs), "--", *inputs.paths]


def fix_arguments(inputs: Inputs) -> list[str]:
    arguments = ["fix"]
    if inputs.bump:
        arguments.append("--bump")
    return [*arguments, *_shared_options(inputs), "--", *inputs.paths]


def _shared_options(inputs: Inputs) -> list[str]:
    options = ["--config", inputs.config] if inputs.config else []
    if inputs.min_release_age is not None:
        options += ["--min-release-age", str(inputs.min_release_age)]
    if inputs.min_release_age_unknown is not None:
        options += ["--min-release-age-unknown", inputs.min_release_age_unknown]
    if inputs.eol_warning_days is not None:
        options += ["--eol-warning-days", str(inputs.eol_warning_days)]
    if inputs.vulns and not inputs.offline:
        options.append("--vulns")
    for mirror in inputs.registry_mirrors:
        options += ["--registry-mirror", mirror]
    for build_arg in inputs.build_args:
        options += ["--build-arg", build_arg]
    return options


def _child_env(environ: Mapping[str, str], inputs: Inputs) -> dict[str, str]:
    """The job's environment for basepin, without the inputs (the GitHub token stays here)."""
    env = {k: v for k, v in environ.items() if not k.startswith("INPUT_")}
    if inputs.dockerhub_username:
        env["DOCKERHUB_USERNAME"] = inputs.dockerhub_username
    if inputs.dockerhub_token:
        env["DOCKERHUB_TOKEN"] = inputs.dockerhub_token
    return env


def _basepin(arguments: Sequence[str], runner: Runner, env: Mapping[str, str]) -> int:
    """Run basepin, echoing what it prints with workflow commands stopped. Its stderr shares
    its stdout's pipe, so no line of it can reach the runner after the token that resumes
    the commands."""
    import codecs

    sys.stdout.flush()
    command_line = [sys.executable, "-m", "basepin", *arguments]
    child_env = {**env, "PYTHONIOENCODING": "utf-8"}
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    ended = True
    with commands_stopped(_say):
        with subprocess.Popen(
            command_line,
            cwd=runner.workspace,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,  # unbuffered: a read gives what has come, as it comes
        ) as child:
            assert child.stdout is not None
            while chunk := child.stdout.read(64 * 1024):
                text = decoder.decode(chunk)
                sys.stdout.write(text)
                sys.stdout.flush()
                ended = text.endswith("\n") if text else ended
            code = child.wait()
        text = decoder.decode(b"", final=True)
        if text or not ended:
            # The token that resumes the commands must start a line of its own.
            sys.stdout.write(text + "\n")
    return code


def _named_files(paths: Sequence[str], config: str, workspace: Path) -> Named | None:
    """The configuration's `files`, found as the fix run in `workspace` finds them."""
    from basepin.config import find_config_file, load_config

    if config:
        return load_config(workspace / config).named_files()
    start = workspace / paths[0] if paths else workspace
    found = find_config_file(start if start.exists() else workspace)
    return load_config(found).named_files() if found else None


def _snapshot(paths: Sequence[str], config: str, workspace: Path) -> dict[str, bytes]:
    """The bytes of the files under `paths` a fix may write (the exit code of fix cannot tell
    whether it wrote anything: 1 also means findings it could not fix)."""
    from basepin.discover import discover, written_with

    try:
        named = _named_files(paths, config, workspace)
        files = discover([str(workspace / path) for path in paths], named=named)
    except BasepinError:
        return {}  # fix reports the problem itself
    snapshot = {}
    for name in (written for found in files for written in written_with(found, named)):
        with contextlib.suppress(OSError):
            snapshot[name] = Path(name).read_bytes()
    return snapshot


def _load(path: Path) -> Report | None:
    from basepin.report.json_load import load

    try:
        return load(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    except UsageError as exc:
        _say(command("error", f"{path}: {exc}", title="basepin"))
        return None


def _suggest(report: Report, inputs: Inputs, runner: Runner) -> tuple[str | None, bool]:
    """Post the review; returns a line for the summary and whether a review carries the findings."""
    from basepin import github_review

    try:
        pull = github_review.pull_request_from_event(runner.event_path, runner.repository)
        outcome = github_review.post_review(
            report.findings, runner.workspace, pull, runner.api_url, inputs.github_token
        )
    except github_review.ReviewError as exc:
        level = "notice" if exc.denied else "warning"
        why = ""
        if exc.denied:
            why = (
                " (the token may not write pull requests: pull requests from forks get a "
                "read-only token)"
            )
        elif exc.rate_limited:
            why = " (GitHub's API rate limit: the next run posts the review)"
        _say(
            command(
                level,
                f"no pull-request suggestions: {exc}{why}. "
                "The findings are shown as annotations and in the job summary.",
                title="basepin",
            )
        )
        return None, False
    if not outcome.posted:
        note = f"Pull-request review: nothing new ({plural(outcome.skipped, 'finding')} "
        note += "already suggested)."
    else:
        note = (
            f"Pull-request review: {plural(outcome.comments, 'comment')} on changed lines "
            f"({outcome.suggestions} with a suggestion), "
            f"{plural(outcome.listed, 'finding')} listed in the review"
            + (f" ({outcome.url})." if outcome.url else ".")
        )
        if outcome.moved:
            note += (
                f" GitHub would not place {plural(len(outcome.moved), 'comment')} on "
                f"the diff, so the review's text carries them: {', '.join(outcome.moved)}."
            )
    note = shown(note)  # the URL comes from the GitHub API
    _say(f"basepin: {note}")
    return note, True


def _verdict(code: int, report: Report, inputs: Inputs) -> int:
    if code == 3:
        references = ", ".join(u.reference for u in report.incomplete)
        _say(
            command(
                "error",
                f"the check is incomplete: {plural(len(report.incomplete), 'reference')} could "
                f"not be checked ({references}), so a pass would not be true. See the log.",
                title="basepin",
            )
        )
        return 3
    if code == 1 and inputs.mode == "fix":
        _say(f"basepin: {plural(len(report.findings), 'finding')} left after fixing.")
        return 0
    if code == 1:
        _say(
            command(
                "error",
                f"{tally(report)}: see the annotations and the job summary.",
                title="basepin",
            )
        )
    return code


def _say(text: str, end: str = "\n") -> None:
    print(text, end=end, flush=True)
