"""The least any checker must do online: one batched token request, then one HEAD per unique
reference, all at once over one connection pool. The token realm is given, not discovered.

    python bench/floor_client.py REALM SERVICE BASE_URL REPOSITORY:TAG...

Prints the seconds spent from the token request to the last answer; exits 1 if any HEAD did
not answer 200 with a digest.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


async def floor(realm: str, service: str, base_url: str, targets: list[str]) -> bool:
    repositories = dict.fromkeys(target.rpartition(":")[0] for target in targets)
    scopes = [("scope", f"repository:{name}:pull") for name in repositories]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits) as http:
        answer = await http.get(realm, params=[("service", service), *scopes])
        headers = {"Accept": ACCEPT, "Authorization": f"Bearer {answer.json()['token']}"}

        async def head(target: str) -> bool:
            name, _, tag = target.rpartition(":")
            reply = await http.head(f"{base_url}/v2/{name}/manifests/{tag}", headers=headers)
            return reply.status_code == 200 and "docker-content-digest" in reply.headers

        return all(await asyncio.gather(*(head(target) for target in targets)))


def main() -> int:
    realm, service, base_url, *targets = sys.argv[1:]
    start = time.perf_counter()
    ok = asyncio.run(floor(realm, service, base_url, targets))
    print(f"{time.perf_counter() - start:.4f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
