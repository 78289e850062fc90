"""Client for the Docker Hub API (hub.docker.com): dates, sizes and tag lists of docker.io images.

The Hub API is not the registry: it never costs pull quota, and the digests basepin pins come
from the registry's HEAD elsewhere. This adds when an image was pushed, how big it is per
platform, and the repository's tags.

Requests, the paths the server knows, login and waits are `registry.hub_session`'s.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from basepin.registry.errors import RegistryError, RepositoryNotFound
from basepin.registry.hub_limits import HubRateLimit
from basepin.registry.hub_session import Answer, HubSession, Question
from basepin.registry.hub_tags import (
    HubImage,
    HubTag,
    HubTagList,
    endpoint_paths,
    hub_confirms,
    repository_path,
    tag_from,
)

__all__ = [
    "HubClient",
    "HubImage",
    "HubRateLimit",
    "HubTag",
    "HubTagList",
    "hub_confirms",
]

logger = logging.getLogger(__name__)

# Names the same service answers on: a `next` link on one of them is a page of the same
# list, read from the configured base instead.
HUB_NAMES = frozenset({"hub.docker.com", "registry.hub.docker.com"})
MAX_PAGE_SIZE = 100
# Pages of a tag list read at most: 1,000 tags, newest first.
MAX_PAGES = 10


class HubClient(HubSession):
    """Asks the Docker Hub API about docker.io repositories over a shared httpx client.

    With a username and personal access token it logs in once (lazily) and sends the access
    token as a bearer to the Hub API only. A 429 is waited out only while the total wait for
    one request stays within `max_wait` seconds; connection errors and 5xx answers are retried
    `retries` times (timeouts and names that do not resolve are not: that would only cost as
    long again). Failures raise the errors of `basepin.registry.errors`, with the API's host
    as their `registry`.
    """

    def __repr__(self) -> str:
        username = self._credentials.username if self._credentials else None
        return f"HubClient({str(self._base)!r}, username={username!r})"

    async def tag(self, repository: str, tag: str) -> HubTag | None:
        """The tag's details; None when the Hub says the repository or the tag does not exist."""
        path = repository_path(repository)
        question = Question(f"{path}:{tag}", path)
        answer = await self._ask_either(path, f"/{quote(tag, safe='')}", {}, question)
        if answer.status == 404:
            return None
        found = tag_from(self._json(answer, question))
        if found is None:
            raise self._protocol_error(f"sent a tag without a name for {question.what}", question)
        return found

    async def tags(
        self, repository: str, *, max_pages: int = MAX_PAGES, page_size: int = MAX_PAGE_SIZE
    ) -> HubTagList:
        """Tags of the repository, most recently updated first, reading at most `max_pages`.

        Follows the envelope's `next` link on the API's own origin, or on another name of the
        service (read from the configured base instead); a link elsewhere, a page bound, a
        loop or a later page that fails ends the list early, and the result says why.
        Raises RepositoryNotFound for an unknown repository.
        """
        if max_pages < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"max_pages >= 1 and page_size in 1..{MAX_PAGE_SIZE} expected")
        path = repository_path(repository)
        question = Question(f"the tags of {path}", path)
        query = {"page_size": str(page_size), "page": "1", "ordering": "last_updated"}
        answer = await self._ask_either(path, "", query, question)
        if answer.status == 404:
            raise RepositoryNotFound(
                f"Docker Hub has no repository {path}", registry=self._host, repository=path
            )
        found: dict[str, HubTag] = {}
        visited = {answer.url}
        pages = 0
        while True:
            pages += 1
            link, count = self._read_page(answer, found, question)
            if link is None:
                return HubTagList(tuple(found.values()), None, pages)
            following = self._next_page(answer.url, link, path)
            read = f"{len(found)} of {count if count is not None else '?'} tags"
            if isinstance(following, str):
                cut = f"{following} ({read})"
            elif pages >= max_pages:
                cut = f"stopped after {pages} page{'s' if pages > 1 else ''} ({read})"
            elif following in visited:
                cut = f"its pages do not end ({read})"
            else:
                visited.add(following)
                try:
                    answer = await self._request("GET", following, question)
                except RegistryError as error:
                    cut = f"page {pages + 1} could not be read ({read}): {error}"
                else:
                    if answer.status != 404:
                        continue
                    cut = f"page {pages + 1} is gone: the list changed while it was read ({read})"
            logger.debug("Docker Hub API: the tags of %s end early: %s", path, cut)
            return HubTagList(tuple(found.values()), cut, pages)

    def _read_page(
        self, answer: Answer, found: dict[str, HubTag], question: Question
    ) -> tuple[str | None, int | None]:
        """Take in one page's tags; its `next` link and `count`."""
        envelope = self._json(answer, question)
        results = envelope.get("results")
        if not isinstance(results, list):
            raise self._protocol_error(f"listing of {question.repository} has no results", question)
        for item in results:
            tag = tag_from(item)
            if tag is None:
                raise self._protocol_error(
                    f"sent a tag without a name for {question.what}", question
                )
            # Tags pushed while paging shift the pages; keep each name's first sighting.
            found.setdefault(tag.name, tag)
        link = envelope.get("next")
        if link is not None and not isinstance(link, str):
            raise self._protocol_error(f"listing of {question.repository} has a bad next", question)
        count = envelope.get("count")
        known = count if isinstance(count, int) and not isinstance(count, bool) else None
        return link or None, known

    def _next_page(self, current: httpx.URL, link: str, path: str) -> httpx.URL | str:
        """The URL to read the next page from, or why it is not followed."""
        try:
            url = current.join(link)
        except httpx.InvalidURL:
            return "its next link is not a URL"
        if _origin(url) != _origin(self._base):
            if url.scheme != "https" or url.host not in HUB_NAMES or url.port is not None:
                return f"its next page is on another host ({url.host or '?'}); not followed"
            rebased = self._url(url.raw_path.decode("ascii"))
            logger.debug("Docker Hub API: next page %s read from %s", url, rebased)
            url = rebased
        listing = {self._url(p).path.rstrip("/") for p in endpoint_paths(path, "")}
        if url.path.rstrip("/") not in listing:
            return "its next link leaves the repository's tag list; not followed"
        return url


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)
