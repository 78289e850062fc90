"""`basepin fix` against a real registry when a file cannot or need not be written: each such
file is reported, the others are still fixed, and the exit code never says a fix was made
when it was not (1: files changed or findings left; 3: a fix was not written)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from basepin import fix
from basepin.cli import main
from basepin.model import Edit
from fixtures.registry import PushedImage, Registry, push_image
from fixtures.runs import isolate


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real Docker Hub, no user credentials, a fresh cache; run inside the tree."""
    isolate(monkeypatch, tmp_path)
    (tmp_path / "tree").mkdir()
    monkeypatch.chdir(tmp_path / "tree")


@pytest.fixture
def image(plain_registry: Registry) -> PushedImage:
    return push_image(plain_registry, f"acme/fix-{uuid.uuid4().hex[:8]}", "1.0")


def tree(image: PushedImage, *names: str) -> dict[str, Path]:
    paths = {}
    for name in names:
        path = Path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"FROM {image.reference} AS app\n")
        paths[name] = path
    return paths


def pinned(image: PushedImage) -> str:
    return f"FROM {image.reference}@{image.digest} AS app\n"


def run_fix(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["fix", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, err.splitlines(), out


def unpinned_line(image: PushedImage, path: str, severity: str = "error") -> str:
    return (
        f"{path}:1:6: {severity} unpinned: {image.reference}: no digest pins this image "
        f"(fix: {image.reference}@{image.digest})"
    )


def test_a_read_only_file_is_reported_and_the_others_are_fixed(
    image: PushedImage, capsys: pytest.CaptureFixture[str]
) -> None:
    files = tree(image, "a/Dockerfile", "b/Dockerfile")
    files["b/Dockerfile"].chmod(0o444)
    code, err, out = run_fix(capsys)
    assert code == 1
    assert err == [
        "basepin: fixed a/Dockerfile (1 edit)",
        "basepin: b/Dockerfile: cannot write: the file is read-only",
        "basepin: 1 error in 1 of 2 files (2 references, 1 unique)",
    ]
    assert out.splitlines() == [unpinned_line(image, "b/Dockerfile")]
    assert files["a/Dockerfile"].read_text() == pinned(image)
    assert files["b/Dockerfile"].read_text() == f"FROM {image.reference} AS app\n"


def test_a_fix_not_written_is_never_a_pass(
    image: PushedImage, capsys: pytest.CaptureFixture[str]
) -> None:
    # Even where what is left is below --fail-on, a fix that was not written exits 3.
    files = tree(image, "Dockerfile")
    files["Dockerfile"].chmod(0o444)
    Path(".basepin.toml").write_text('[severity]\nunpinned = "warning"\n')
    code, err, out = run_fix(capsys)
    assert code == 3
    assert err == [
        "basepin: Dockerfile: cannot write: the file is read-only",
        "basepin: 1 warning in 1 file (1 reference, 1 unique)",
    ]
    assert out == unpinned_line(image, "Dockerfile", "warning") + "\n"


def test_a_link_out_of_the_tree_is_left_alone(
    image: PushedImage, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = tree(image, "inside/Dockerfile", "../outside/Dockerfile")
    Path("linked.Dockerfile").symlink_to(files["../outside/Dockerfile"].resolve())
    Path("within.Dockerfile").symlink_to("inside/Dockerfile")
    code, err, out = run_fix(capsys)
    assert code == 1
    outside = (tmp_path / "outside" / "Dockerfile").resolve()
    assert err == [
        "basepin: fixed inside/Dockerfile (1 edit)",
        f"basepin: linked.Dockerfile: refusing to write: it is a symbolic link to {outside}, "
        f"outside {Path.cwd().resolve()}",
        # The link inside was checked as a file of its own, and fixed through the first.
        "basepin: within.Dockerfile: 1 edit already made",
        "basepin: 1 error in 1 of 3 files (3 references, 1 unique)",
    ]
    assert out.splitlines() == [unpinned_line(image, "linked.Dockerfile")]
    assert outside.read_text() == f"FROM {image.reference} AS app\n"
    assert files["inside/Dockerfile"].read_text() == pinned(image)
    assert Path("linked.Dockerfile").is_symlink()


def test_a_file_named_through_a_link_is_held_to_the_folder_it_was_named_in(
    image: PushedImage, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    files = tree(image, "../outside/Dockerfile")
    Path("Dockerfile").symlink_to(files["../outside/Dockerfile"].resolve())
    code, err, _ = run_fix(capsys, "Dockerfile")
    assert code == 1  # the unpinned error is left
    assert err[0].startswith("basepin: Dockerfile: refusing to write: it is a symbolic link")
    assert files["../outside/Dockerfile"].read_text() == f"FROM {image.reference} AS app\n"


def test_links_to_nothing_are_findings_not_tracebacks(
    image: PushedImage, capsys: pytest.CaptureFixture[str]
) -> None:
    tree(image, "Dockerfile")
    Path("loop.Dockerfile").symlink_to("loop.Dockerfile")
    Path("dangling.Dockerfile").symlink_to("missing")
    code, err, out = run_fix(capsys)
    assert code == 1
    assert err == [
        "basepin: fixed Dockerfile (1 edit)",
        "basepin: 2 errors in 2 of 3 files (1 reference, 1 unique)",
    ]
    assert out.splitlines() == [
        "dangling.Dockerfile:1:1: error invalid: cannot read the file: it is a symbolic link "
        "to a file that does not exist",
        "loop.Dockerfile:1:1: error invalid: cannot read the file: "
        "Too many levels of symbolic links",
    ]


def during_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, meddle: Callable[[Path], object]
) -> None:
    """Run `meddle` on `name` once its fix is planned, just before it is written."""
    plan = fix.plan_file

    def planned_then_meddled(path: str, *args: object, **kwargs: object) -> fix.FileChange:
        change = plan(path, *args, **kwargs)  # type: ignore[arg-type]
        if path == name:
            meddle(Path(path))
        return change

    monkeypatch.setattr(fix, "plan_file", planned_then_meddled)


def before_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, meddle: Callable[[Path], object]
) -> None:
    """Run `meddle` on `name` after the check read it, before its fix starts."""
    fix_file = fix.fix_file

    def meddled_then_fixed(path: str, edits: list[Edit], **kwargs: object) -> fix.FileChange:
        if path == name:
            meddle(Path(path))
        return fix_file(path, edits, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fix, "fix_file", meddled_then_fixed)


def test_a_file_deleted_mid_run_is_reported_and_the_others_are_fixed(
    image: PushedImage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tree(image, "a/Dockerfile", "b/Dockerfile")
    during_the_fix(monkeypatch, "a/Dockerfile", Path.unlink)
    code, err, out = run_fix(capsys)
    assert code == 1
    assert err == [
        "basepin: a/Dockerfile: cannot write: No such file or directory",
        "basepin: fixed b/Dockerfile (1 edit)",
        "basepin: 1 error in 1 of 2 files (2 references, 1 unique)",
    ]
    assert out.splitlines() == [unpinned_line(image, "a/Dockerfile")]
    assert not files["a/Dockerfile"].exists()
    assert files["b/Dockerfile"].read_text() == pinned(image)


def test_a_pin_another_run_made_first_is_done_not_made_twice(
    image: PushedImage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tree(image, "Dockerfile")
    before_the_fix(monkeypatch, "Dockerfile", lambda path: path.write_text(pinned(image)))
    code, err, out = run_fix(capsys)
    assert code == 0
    assert err == [
        "basepin: Dockerfile: 1 edit already made",
        "basepin: no findings in 1 file (1 reference, 1 unique)",
    ]
    assert out == ""
    assert files["Dockerfile"].read_text() == pinned(image)


def test_a_pin_to_another_digest_made_meanwhile_is_not_pinned_again(
    image: PushedImage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tree(image, "Dockerfile")
    other = f"FROM {image.reference}@sha256:{'e' * 64} AS app\n"
    before_the_fix(monkeypatch, "Dockerfile", lambda path: path.write_text(other))
    code, err, out = run_fix(capsys)
    assert code == 1
    assert err == [
        "Dockerfile:1:6: not fixed: file changed since it was read",
        "basepin: 1 error in 1 file (1 reference, 1 unique)",
    ]
    assert out.splitlines() == [unpinned_line(image, "Dockerfile")]
    assert files["Dockerfile"].read_text() == other


def test_diff_mode_reports_refusals_and_writes_nothing(
    image: PushedImage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = tree(image, "Dockerfile")
    Path(".basepin.toml").write_text('[severity]\nunpinned = "note"\n')
    other = f"FROM {image.reference}@sha256:{'e' * 64} AS app\n"
    plan_changes = fix.plan_changes

    def changed_then_planned(
        edits: list[Edit], read: Callable[[str], bytes], **kwargs: object
    ) -> list[fix.FileChange]:
        files["Dockerfile"].write_text(other)
        return plan_changes(edits, read, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fix, "plan_changes", changed_then_planned)
    code, err, out = run_fix(capsys, "--diff")
    assert code == 3
    assert err == ["Dockerfile:1:6: not fixed: file changed since it was read"]
    assert out == ""
    assert files["Dockerfile"].read_text() == other
    assert sorted(path.name for path in Path().iterdir()) == [".basepin.toml", "Dockerfile"]
