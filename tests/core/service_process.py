"""Starting and stopping a real `memex serve` process for the CLI tests."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def running_service(command: Sequence[str], env: dict[str, str], listening: Callable[[], object],
                    timeout: float = 60) -> Iterator[subprocess.Popen[str]]:
    """``command`` running until the block ends, yielded once ``listening()`` is true; stopped
    with Ctrl-C as a person would."""
    proc = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not listening():
        assert proc.poll() is None, f"memex serve ended: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "memex serve did not start listening"
        time.sleep(0.1)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
