"""Sum py-spy collapsed stacks (``--format raw``): where the samples went.

``python benchmarks/stacks.py FILE [--top 30] [--match TEXT]``

Prints the share of samples per frame where they ended (self) and per frame anywhere on
the stack (inclusive; each frame counted once per stack, line numbers dropped). With
``--match``, only stacks containing TEXT (e.g. ``resize_object``), as shares of all samples.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

LINE_NUMBER = re.compile(r":\d+\)")


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    """``(frames root first, samples)`` per line of a collapsed-stacks file."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default=None)
    args = parser.parse_args()
    stacks = read_stacks(args.file)
    total = sum(n for _, n in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        if args.match and not any(args.match in f for f in frames):
            continue
        own[frames[-1]] += n
        for frame in {LINE_NUMBER.sub(")", f) for f in frames[1:]}:
            inclusive[frame] += n
    print(f"{total} samples{f', stacks with {args.match!r}' if args.match else ''}")
    print("self:")
    for frame, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {frame[:140]}")
    print("inclusive:")
    for frame, n in inclusive.most_common(args.top * 2):
        print(f"  {100 * n / total:5.1f} %  {frame[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
