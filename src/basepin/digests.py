"""Which digests basepin accepts: OCI's registered algorithms in their canonical form.

Only `sha256:` + 64 and `sha512:` + 128 lowercase hex digits (the OCI image spec's registered
algorithms) can be verified over bytes, so only they are accepted, from every source: a
Dockerfile, a registry header, the Docker Hub API, the cache. go-digest's grammar allows more
(`md5+b64:…`, upper case); none of that can be checked, so none of it is ever written.
"""

from __future__ import annotations

# Algorithm -> length of its lowercase hex encoding.
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_LOWER_HEX = frozenset("0123456789abcdef")


def digest_problem(value: object) -> str | None:
    """What is wrong with `value` as a digest, in words; None when it is one."""
    if not isinstance(value, str) or not value:
        return "no digest"
    algorithm, colon, encoded = value.partition(":")
    if not colon:
        return "a digest is an algorithm and hex digits, as in sha256:<64 hex digits>"
    length = HEX_LENGTHS.get(algorithm)
    if length is None:
        return "only sha256 and sha512 digests can be verified"
    if len(encoded) != length or not _LOWER_HEX.issuperset(encoded):
        return f"a {algorithm} digest is {algorithm}: followed by {length} lowercase hex digits"
    return None


def is_digest(value: object) -> bool:
    """Whether `value` is an accepted digest (see `digest_problem`)."""
    return digest_problem(value) is None
