"""A registry that lies, floods, trickles or falls silent: what the user sees, the exit code
and the bytes on disk. Nothing a hostile registry sends may be written, crash the run or hold
it up for longer than its deadline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from basepin.cli import main
from fixtures.hostile import Answer, HostileRegistry, ServedImage, endless, sha256_of

TIMEOUT = 1.0


def _fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *extra: str
) -> tuple[int, str, str, bytes]:
    """`basepin fix` of one Dockerfile: exit code, what it printed (the findings left and
    what could not be checked), its stderr, and the file's bytes afterwards."""
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    code = main(["fix", "--no-cache", "--timeout", str(TIMEOUT), *extra, str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err, path.read_bytes()


def _unpinned_and_unchecked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, image: ServedImage, words: str
) -> None:
    """`basepin fix` leaves the file as it was, the unpinned error stands (exit 1, never 2 for
    what a registry sent) and the reason the reference was not checked names `words`."""
    text = f"FROM {image.reference}\n"
    code, out, _, after = _fix(capsys, tmp_path, text)
    assert code == 1
    assert after == text.encode()
    assert words in out


@pytest.fixture
def image(hostile_registry: HostileRegistry) -> ServedImage:
    return hostile_registry.serve_image("team/app", "1")


def test_an_honest_answer_is_pinned(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The control: the same set-up without a lie pins the digest of the bytes."""
    code, out, err, after = _fix(capsys, tmp_path, f"FROM {image.reference}\n")
    assert code == 1
    assert after == f"FROM {image.reference}@{image.digest}\n".encode()
    assert "could not be checked" not in out + err


@pytest.mark.parametrize(
    ("header", "words"),
    [
        pytest.param(
            "sha256:" + "0" * 64, "the content the registry sent has digest", id="lying-digest"
        ),
        pytest.param("md5:" + "0" * 32, "only sha256 and sha512", id="md5"),
        pytest.param("sha256:abc", "64 lowercase hex digits", id="short"),
        pytest.param("sha256:" + "A" * 64, "64 lowercase hex digits", id="upper-case"),
        pytest.param("sha512:" + "0" * 64, "128 lowercase hex digits", id="sha512-short"),
    ],
)
def test_a_digest_header_that_is_wrong_or_malformed_is_never_written(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    header: str,
    words: str,
) -> None:
    lying = Answer(200, {"Content-Type": "x", "Docker-Content-Digest": header}, image.manifest)
    hostile_registry.answer("GET", image.manifest_path, lying)
    hostile_registry.answer("HEAD", image.manifest_path, lying)
    text = f"FROM {image.reference}\n"
    code, out, _, after = _fix(capsys, tmp_path, text)
    # The unpinned error stands (so 1, not 3, and never 2: a registry's data is no usage
    # error); the reference is listed as not checked.
    assert code == 1
    assert after == text.encode()
    assert words in out
    assert "error unpinned" in out


def test_bytes_that_are_not_what_a_digest_names_are_refused(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A manifest asked for by digest must hash to that digest, whatever the header says."""
    other = image.manifest + b" "
    hostile_registry.answer(
        "GET",
        f"/v2/{image.repository}/manifests/{image.digest}",
        Answer(200, {"Docker-Content-Digest": image.digest}, other),
    )
    text = f"FROM {image.registry}/{image.repository}@{image.digest}\n"
    code, out, _, after = _fix(capsys, tmp_path, text, "--max-age", "100000")
    assert after == text.encode()
    assert code == 3  # nothing else to say: the pin could not be checked
    assert "the content the registry sent has digest" in out


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        pytest.param(
            Answer(200, {}, b"{" + b" " * (5 * 1024 * 1024) + b"}"),
            "larger than 4 MiB",
            id="oversized",
        ),
        pytest.param(
            Answer(200, {"Content-Length": str(1 << 30)}, b"{}"),
            "larger than 4 MiB",
            id="announced-1GiB",
        ),
        pytest.param(Answer(200, {}, endless()), "larger than 4 MiB", id="endless"),
    ],
)
def test_a_flood_is_cut_at_the_cap(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    answer: Answer,
    words: str,
) -> None:
    hostile_registry.answer("GET", image.manifest_path, answer)
    _unpinned_and_unchecked(capsys, tmp_path, image, words)


def test_an_endless_answer_keeps_memory_flat(
    hostile_registry: HostileRegistry, image: ServedImage, tmp_path: Path
) -> None:
    """In a process of its own, so its peak memory is its own."""
    hostile_registry.answer("GET", image.manifest_path, Answer(200, {}, endless()))
    path = tmp_path / "Dockerfile"
    path.write_text(f"FROM {image.reference}\n")
    # Its peak as its parent sees it: a fresh parent, so no earlier child's peak counts.
    measure = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stdout + done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    command = [sys.executable, "-m", "basepin", "check", "--no-cache", "--timeout", "5"]
    done = subprocess.run(
        [sys.executable, "-c", measure, *command, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    *said, peak_kib = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout  # unpinned, and not checked
    assert "larger than 4 MiB" in "\n".join(said)
    # The interpreter and the HTTP stack take ~40 MiB; the cap adds at most a few.
    assert int(peak_kib) < 120 * 1024


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("ping", id="silent-ping"),
        pytest.param("manifest", id="silent-manifest"),
        pytest.param("trickle", id="trickled-manifest"),
    ],
)
def test_a_silent_or_trickling_registry_gives_up_within_its_deadline(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    if where == "ping":
        hostile_registry.answer("GET", "/v2/", Answer(silent=True))
    elif where == "manifest":
        hostile_registry.answer("GET", image.manifest_path, Answer(silent=True))
    else:
        slow = Answer(200, {"Content-Length": str(len(image.manifest))}, image.manifest, 0.2)
        hostile_registry.answer("GET", image.manifest_path, slow)
    text = f"FROM {image.reference}\n"
    started = time.monotonic()
    code, out, _, after = _fix(capsys, tmp_path, text)
    took = time.monotonic() - started
    assert code == 1
    assert after == text.encode()
    assert out.count("could not check") == 1
    assert hostile_registry.host in out
    # Bounded work, not a speed target: a reference gets twice the timeout as a whole (the
    # early ping may add its own wait of a second); without the bound this took minutes.
    assert took < 4 * TIMEOUT + 2


@pytest.mark.parametrize(
    ("challenge", "words"),
    [
        pytest.param('Bearer realm="http://127.0.0.1:1/tok\x1b[2Jen"', "control", id="control"),
        pytest.param('Bearer realm="http://[::1/token"', "not a URL", id="malformed"),
        pytest.param('Bearer realm="file:///etc/passwd"', "not an http(s) URL", id="file"),
        pytest.param('Bearer realm=""', "refused access", id="empty"),
    ],
)
def test_a_hostile_token_realm_makes_the_reference_incomplete(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    challenge: str,
    words: str,
) -> None:
    refusal = Answer(401, {"WWW-Authenticate": challenge}, b"{}")
    hostile_registry.answer("GET", "/v2/", refusal)
    hostile_registry.answer("GET", image.manifest_path, refusal)
    _unpinned_and_unchecked(capsys, tmp_path, image, words)


@pytest.mark.parametrize(
    ("location", "words"),
    [
        pytest.param("http://127.0.0.1:1/a\x07b", "not a URL", id="control"),
        pytest.param("http://[::1/x", "not a URL", id="malformed"),
        pytest.param("ftp://127.0.0.1/x", "not an http(s) URL", id="ftp"),
    ],
)
def test_a_hostile_redirect_makes_the_reference_incomplete(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    location: str,
    words: str,
) -> None:
    # A Location header cannot carry a raw control character through http.server, so the
    # control case is percent-free text the handler writes as is.
    hostile_registry.answer("GET", image.manifest_path, Answer(302, {"Location": location}))
    _unpinned_and_unchecked(capsys, tmp_path, image, words)


@pytest.mark.parametrize(
    ("link", "words"),
    [
        pytest.param("</v2/team/app/tags/list?last=1\x1b>; rel=next", "control", id="control"),
        pytest.param("<http://[::1/x>; rel=next", "not a URL", id="malformed"),
        pytest.param("<http://203.0.113.9/v2/x>; rel=next", "another host", id="elsewhere"),
        pytest.param("</v2/team/app/tags/list?n=1000>; rel=next", "do not end", id="loop"),
    ],
)
def test_a_tag_list_that_cannot_be_followed_to_its_end_is_incomplete(
    hostile_registry: HostileRegistry,
    image: ServedImage,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    link: str,
    words: str,
) -> None:
    """`outdated` judged on part of a list could miss the newest version: the run says so
    (exit 3) rather than pass; the pin is still written."""
    hostile_registry.serve_image(image.repository, "2")
    page = json.dumps({"name": image.repository, "tags": ["1", "2"]}).encode()
    hostile_registry.answer(
        "GET", f"/v2/{image.repository}/tags/list", Answer(200, {"Link": link}, page)
    )
    text = f"FROM {image.reference}\n"
    code, out, _, after = _fix(capsys, tmp_path, text)
    assert code == 1  # files changed; what could not be checked is said
    assert words in out
    assert after == f"FROM {image.reference}@{image.digest}\n".encode()


def test_a_manifest_pinned_digest_with_another_algorithm_is_refused_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From the Dockerfile too, only digests that can be verified are accepted."""
    text = "FROM 127.0.0.1:9/team/app:1@md5:" + "0" * 32 + "\n"
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    code = main(["check", "--offline", "--format", "json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["rule"] == "invalid"
    assert "only sha256 and sha512" in finding["message"]
    assert sha256_of(b"") not in finding["message"]
