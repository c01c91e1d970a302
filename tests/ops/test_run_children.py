"""`make run`'s supervision of its children (``config.run.Children``; issue 12, self-healing
run), with real short-lived processes and short backoffs."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from config.run import Children


class Quick(Children):
    FIRST_BACKOFF = 0.05
    MAX_BACKOFF = 0.2
    STABLE_AFTER = 5.0
    GIVE_UP_AFTER = 3


def _run_until(children: Children, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        failed = children.check()
        if failed is not None:
            return failed
        time.sleep(0.02)
    return None


def test_a_child_that_dies_is_started_again_and_the_others_keep_running(capsys) -> None:  # type: ignore[no-untyped-def]
    # given a child that crashes once (it leaves a mark, then exits 3) and one that keeps running
    mark = Path(tempfile.mkdtemp()) / "ran-once"
    crash_once = (
        f"import pathlib, sys, time; p = pathlib.Path({str(mark)!r})\n"
        "if not p.exists(): p.touch(); sys.exit(3)\n"
        "time.sleep(30)"
    )
    children = Quick(
        {
            "flaky": [sys.executable, "-c", crash_once],
            "steady": [sys.executable, "-c", "import time; time.sleep(30)"],
        }
    )
    steady = children.pids()["steady"]
    try:
        # when it crashes
        assert _run_until(children, 3.0) is None
        # then it was started again after its backoff, said so, and the other one never was
        out = capsys.readouterr().out
        assert "flaky exited with 3" in out and "Restarting flaky." in out, out
        assert children.pids()["steady"] == steady
        assert "steady" not in out
    finally:
        children.stop()


def test_a_child_that_keeps_dying_at_once_stops_everything() -> None:
    # given a child that fails at once every time (a bad setting, a port in use)
    children = Quick(
        {
            "broken": [sys.executable, "-c", "import sys; sys.exit(2)"],
            "steady": [sys.executable, "-c", "import time; time.sleep(30)"],
        }
    )
    try:
        # when it has died GIVE_UP_AFTER times in a row
        failed = _run_until(children, 10.0)
    finally:
        children.stop()
    # then the launcher gives up with a message that says why, and stops the others too
    assert failed is not None
    assert "broken exited with 2 3 times in a row" in failed
