"""Where a py-spy profile spends its samples (not a benchmark: ``make bench`` skips ``bench/_*``).

    python -m bench._pyspy_top PROFILE.txt [--top 25] [--match apps/] [--within FRAME] [--busy]

``PROFILE.txt`` is ``py-spy record --format raw`` output (what ``--profile x.txt`` of the
benchmarks writes): one collapsed stack per line and its sample count. Prints the functions with
the largest inclusive share (a function counted once per stack), optionally only those whose
frame matches ``--match`` (e.g. ``apps/`` for the product's own code), and the largest self
shares; ``--within`` keeps only the stacks through a frame (e.g. one request's handler).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file path from the package)`` without the line."""
    name = re.sub(r":\d+\)$", ")", frame.strip())
    return re.sub(r"\(/.*?/(site-packages|wt-bench|main)/", "(", name)


# Leaf frames that wait (on PostgreSQL's answer, a lock, a condition, the event loop's select):
# ``--busy`` drops those samples, leaving roughly where the CPU goes.
WAITS = {"Connection.wait", "Condition.wait", "EpollSelector.select", "Runner.run", "wait_c"}


def summarize(path: Path, top: int, match: str, within: str = "", busy: bool = False) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        count = int(m["count"])
        frames = [frame_name(f) for f in m["stack"].split(";") if f]
        if within and not any(within in f for f in frames):
            continue
        if busy and frames and frames[-1].split(" ")[0] in WAITS:
            continue
        total += count
        for name in set(frames):
            inclusive[name] += count
        if frames:
            own[frames[-1]] += count
    if not total:
        print("no samples")
        return
    scope = f" of stacks through {within!r}" if within else ""
    scope += " (waiting samples dropped)" if busy else ""
    print(f"{total} samples{scope}; inclusive share (frames matching {match!r}):")
    shown = 0
    for name, count in inclusive.most_common():
        if match and match not in name:
            continue
        print(f"  {100 * count / total:5.1f} %  {name}")
        shown += 1
        if shown >= top:
            break
    print("self share:")
    for name, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f} %  {name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._pyspy_top", description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only frames containing this text")
    parser.add_argument("--within", default="", help="only stacks with a frame containing this")
    parser.add_argument("--busy", action="store_true", help="drop samples that wait (WAITS)")
    args = parser.parse_args(argv)
    summarize(args.profile, args.top, args.match, args.within, args.busy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
