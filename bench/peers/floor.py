"""The floor under the burst: ``count`` GETs to the recorder from 20 threads of one process,
doing nothing else, with the peers' GET (bench.peers.tasks: urllib3, as APScheduler users
make it).

Run as a child process: ``python -m bench.peers.floor SPEC_JSON``; prints one JSON line
with the seconds the GETs took and the CPU seconds they used.
"""

import json
import sys
import threading
import time

from bench.peers.tasks import hit


def main() -> None:
    spec = json.loads(sys.argv[1])
    count, threads, base = spec["count"], spec["threads"], spec["recorder"]
    per_thread = [range(i, count, threads) for i in range(threads)]

    def work(indexes: range) -> None:
        for i in indexes:
            hit(f"{base}/hit/f{i}")

    hit(f"{base}/hit/warm-up")
    workers = [threading.Thread(target=work, args=(indexes,)) for indexes in per_thread]
    cpu, started = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    took = time.perf_counter() - started
    print(json.dumps({"seconds": took, "cpu_seconds": time.process_time() - cpu}), flush=True)


if __name__ == "__main__":
    main()
