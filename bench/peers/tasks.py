"""The job the peers run: one HTTP GET to the bench's recorder (as Cronwell's http type)."""

import urllib3

_pool = urllib3.PoolManager(maxsize=32, retries=False)


def hit(url: str) -> None:
    _pool.request("GET", url, timeout=10).release_conn()
