"""What reading SBOM attestations does when registries and OSV misbehave.

A real registry verifies what is pushed, so content that does not match its digest, and an
OSV answer that is not OSV's, come from `httpx.MockTransport`; the rest from the real
registry and the local OSV API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from basepin.reference import parse_reference
from basepin.registry import sbom as registry_sbom
from basepin.registry.credentials import CredentialStore
from basepin.registry.endpoints import Endpoints
from basepin.registry.errors import ProtocolError, RegistryError
from basepin.registry.http import RetryPolicy
from basepin.registry.oci import RegistryClient
from basepin.registry.osv import OsvClient
from basepin.resolve import ResolveOptions
from basepin.rules.vulnerable import scan
from basepin.sbom import PackageQuery, SbomAnswer
from basepin.scans import ScanTarget
from fixtures.osv import OsvServer
from fixtures.registry import Registry, push_image
from fixtures.sboms import CRITICAL, record, spdx_statement

SRC = Path(__file__).parent.parent.parent / "src"
JINJA = "pkg:pypi/jinja2@3.1.4"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _registry(routes: dict[str, bytes]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        body = routes.get(request.url.path)
        if body is None:
            return httpx.Response(404)
        kind = "application/vnd.oci.image.index.v1+json" if b'"manifests"' in body else None
        return httpx.Response(200, content=body, headers={"Content-Type": kind or "x/y"})

    return answer


def _index_with(sbom: bytes, *, declared: bytes | None = None) -> dict[str, bytes]:
    """Routes of an index whose linux/amd64 attestation holds `sbom` (declared with the
    digest and size of `declared`, where given)."""
    child = json.dumps({"schemaVersion": 2, "config": {}, "layers": []}).encode()
    named = declared if declared is not None else sbom
    attestation = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                       "digest": _digest(b"{}")},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": _digest(named),
                    "size": len(named),
                    "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"},
                }
            ],
        }
    ).encode()  # fmt: skip
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": _digest(child), "size": len(child),
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": _digest(attestation), "size": len(attestation),
                 "platform": {"os": "unknown", "architecture": "unknown"},
                 "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                 "vnd.docker.reference.digest": _digest(child)}},
            ],
        }
    ).encode()  # fmt: skip
    base = "/v2/acme/app"
    return {
        f"{base}/manifests/{_digest(index)}": index,
        f"{base}/manifests/{_digest(attestation)}": attestation,
        f"{base}/blobs/{_digest(named)}": sbom,
        "index": index,
    }


def _read(routes: dict[str, bytes]) -> SbomAnswer:
    async def go() -> SbomAnswer:
        transport = httpx.MockTransport(_registry(routes))
        async with httpx.AsyncClient(transport=transport) as http:
            client = RegistryClient(http, CredentialStore(), Endpoints())
            reader = registry_sbom.SbomReader(client)
            ref = parse_reference("registry.test/acme/app")
            return await reader.read(ref, _digest(routes["index"]), ())

    return asyncio.run(go())


def test_an_sbom_is_read_and_checked_against_its_digest() -> None:
    sbom = spdx_statement([JINJA])
    answer = _read(_index_with(sbom))
    assert answer.queries == (PackageQuery("PyPI", "jinja2", "3.1.4"),)
    assert answer.platforms == ("linux/amd64",)
    # Bytes other than those the digest names are refused, never read as the SBOM.
    with pytest.raises(ProtocolError, match="has digest"):
        _read(_index_with(spdx_statement(["pkg:pypi/evil@1"]), declared=sbom))


def test_an_sbom_over_the_cap_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    sbom = spdx_statement([JINJA] * 50)
    monkeypatch.setattr(registry_sbom, "MAX_SBOM_BYTES", len(sbom) - 1)
    answer = _read(_index_with(sbom))
    assert answer.queries is None
    assert answer.reason is not None
    assert "more than basepin reads" in answer.reason
    # A server that sends more than the descriptor said is cut off at the cap as well.
    routes = _index_with(sbom, declared=b"x")
    routes[f"/v2/acme/app/blobs/{_digest(b'x')}"] = sbom
    with pytest.raises(ProtocolError, match="larger than"):
        _read(routes)


def test_an_sbom_about_another_image_is_refused() -> None:
    answer = _read(_index_with(spdx_statement([JINJA], "sha256:" + "0" * 64)))
    assert answer.queries is None
    assert answer.reason == "linux/amd64: the SBOM describes another image than the index says"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"<html>maintenance</html>", "not OSV's JSON"),
        (200, b'{"results": []}', "answered 0 results for 1 queries"),
        (200, b'{"results": [{"vulns": [{"id": "../../etc"}]}]}', "no valid vulnerability ID"),
        (503, b"", "OSV querybatch: OSV answered HTTP 503"),
    ],
)
def test_an_osv_answer_that_is_not_the_apis_is_an_error(
    status: int, body: bytes, expected: str
) -> None:
    async def go() -> None:
        transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
        async with httpx.AsyncClient(transport=transport) as http:
            osv = OsvClient(http, "https://osv.test", RetryPolicy(attempts=1))
            await osv.query([PackageQuery("PyPI", "jinja2", "3.1.4")])

    with pytest.raises(RegistryError, match=expected):
        asyncio.run(go())


def test_a_scan_the_cache_answers_never_loads_the_http_stack(
    plain_registry: Registry, osv_server: OsvServer, tmp_path: Path
) -> None:
    osv_server.add(record("GHSA-aaaa-bbbb-cccc", "PyPI", "jinja2", cvss=CRITICAL), "3.1.4")
    image = push_image(
        plain_registry,
        f"acme/cached-{uuid.uuid4().hex[:8]}",
        "1",
        platforms=["linux/amd64"],
        attestations=True,
        sbom=lambda child: spdx_statement([JINJA], child.digest),
    )
    target = ScanTarget(plain_registry.host, image.repository, image.digest, ())
    options = ResolveOptions(cache_dir=tmp_path / "cache")
    cold = scan([target], options, osv_url=osv_server.url)
    assert cold.summaries[target.key].counts == (1, 0, 0, 0, 0)
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from basepin.resolve import ResolveOptions\n"
        "from basepin.scans import ScanTarget\n"
        "from basepin.rules.vulnerable import scan\n"
        f"target = ScanTarget(*{list(target)!r})\n"
        f"options = ResolveOptions(cache_dir=Path({str(options.cache_dir)!r}))\n"
        "warm = scan([target], options, osv_url='http://127.0.0.1:9')\n"
        "summary = warm.summaries[target.key]\n"
        "print(json.dumps([summary.ids, sorted({'httpx', 'asyncio'} & set(sys.modules))]))\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout) == [["GHSA-aaaa-bbbb-cccc"], []]
