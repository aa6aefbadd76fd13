"""A notification receiver in a process of its own, for the notifier workload: a recorder
(bench/recorder.py) that takes the notifications' POSTs. In the bench's own process, its
parsing would hold the GIL the arrival recorder needs to note the runs' times.

    python -m bench.sink     prints its URL, then answers each line on stdin ("reset" or
                             "total") until stdin closes
"""

import sys

from bench.recorder import Recorder


class Sink:
    """The bench's handle on the sink process."""

    def __init__(self) -> None:
        import subprocess

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._readline()

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._readline()

    def reset(self) -> None:
        self._ask("reset")

    def total(self) -> int:
        return int(self._ask("total"))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def main() -> None:
    recorder = Recorder()
    print(recorder.url, flush=True)
    for line in sys.stdin:
        if line.strip() == "reset":
            recorder.reset()
            print("ok", flush=True)
        else:
            print(recorder.total(), flush=True)
    recorder.close()


if __name__ == "__main__":
    main()
