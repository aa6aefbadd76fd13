"""The job the peers run: one HTTP GET to the bench's recorder, made as APScheduler users
make it: urllib3 (under requests) with one pool manager for the process, connections kept
alive. Nothing of Cronwell is imported here: the peers' processes load only their own code.
"""

import urllib3

_http = urllib3.PoolManager(maxsize=20, retries=False, timeout=10.0)


def hit(url: str) -> None:
    _http.request("GET", url)
