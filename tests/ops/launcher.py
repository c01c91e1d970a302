"""Start `python -m config.run` as a real subprocess and talk to it over HTTP, with bounded waits.

The launcher runs in its own session (so its process group is ours to signal and to clean up),
writes its output to a file (a pipe could fill up and block it), and is always killed, with
everything it started, when the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
BANNER = "shop helpdesk is running."

# Loopback only, and never through a proxy configured in the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, body: dict[str, object] | None = None, timeout: float = 10
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- output ---\n{tail}")


def group_processes(pgid: int) -> dict[int, str]:
    """Live (not zombie) processes of a process group: pid -> command line."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # gone meanwhile
            continue
        # Fields after the command name (which may hold spaces and parentheses).
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def alive(pids: list[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.append(pid)
    return left


@dataclass
class Launcher:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        return http("GET", self.base + path)

    def post(self, path: str, body: dict[str, object]) -> tuple[int, bytes]:
        return http("POST", self.base + path, body)

    def wait_until_running(self, timeout: float) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"config.run exited with {self.process.returncode}\n{self.output[-4000:]}"
                )
            return BANNER in self.output

        wait_for("the launcher's banner", up, timeout, self.log)

    def children(self) -> dict[int, str]:
        return {
            pid: cmd for pid, cmd in group_processes(self.process.pid).items() if pid != self.pid
        }

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: signal.Signals, *, whole_group: bool, timeout: float) -> int:
        if whole_group:  # what Ctrl-C in a terminal does
            os.killpg(self.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"config.run still running {timeout}s after {sig.name}") from exc


@contextmanager
def launched(env: dict[str, str], log: Path) -> Iterator[Launcher]:
    """Run the launcher with ``env`` (added to a cleaned copy of ours) on a free port."""
    port = free_port()
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HELPDESK_EMBEDDED", "DJANGO_ENV", "PYTEST_ADDOPTS", "PORT", "HOST")
        and not k.startswith("PYTEST_")
    }
    full_env.update({"HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1", **env})
    # Each run's /metrics files of its own (make run empties the directory when it starts).
    full_env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(log.parent / f"prometheus-{port}"))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "config.run"],
            cwd=BASE_DIR,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    launcher = Launcher(process=process, port=port, log=log)
    try:
        yield launcher
    finally:
        # Whatever happened, nothing of this run outlives the test.
        if group_processes(process.pid) or process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
