"""Where the time goes: py-spy samples a command and all its subprocesses (Dask workers included).

Usage: python bench/profile.py OUT.json [--rate 50] -- COMMAND [ARGS...]

Writes the raw collapsed stacks beside OUT.json (``.folded``, for flamegraph tools or speedscope)
and, in OUT.json, over the samples of threads at work (not waiting on a lock, socket or event
loop), the share per function of the project (the innermost project
frame of each stack: the step the time was spent for), per library function at the top of the stack
(where it was actually spent), and per process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = re.compile(r"\((?:.*[/\\])?(sensing|pipelines|bench)[/\\][^()]*\)$")
"""A frame of the project's own code: ``function (…/sensing/…/module.py:12)``."""
WAITING = re.compile(r"(select|poll|wait|sleep|acquire|accept|recv|read_from_fd)\b", re.I)
"""Leaf frames of threads waiting (event loops, locks, sockets): not time spent working."""
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?):?(?P<line>\d*)\)$")


def _name(frame: str) -> str:
    """``function (path/module.py:12)`` -> ``module.py:function``."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    return f"{Path(match['file']).name}:{match['func']}"


def _relative(text: str) -> str:
    """``text`` without this checkout's location (results are kept in the repository)."""
    return text.replace(f"{Path(sys.executable).parent}/", "").replace(f"{ROOT}/", "")


def summarise(folded: Path, top: int = 25) -> dict[str, object]:
    """Sample shares from py-spy's collapsed stacks."""
    ours: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if WAITING.search(frames[-1].split(" (")[0]):
            continue
        total += count
        process = frames[0] if frames[0].startswith("process ") else "main"
        processes[_relative(re.sub(r"^process \d+:", "", process))[:80]] += count
        leaves[_name(frames[-1])] += count
        project = [f for f in frames if OURS.search(f)]
        step = _name(project[-1]) if project else "(outside the project: Dask, Prefect, interpreter)"
        ours["(importing modules)" if step.endswith(":<module>") else step] += count

    def shares(counter: Counter[str]) -> list[dict[str, object]]:
        return [
            {"function": _relative(k), "share": round(v / max(total, 1), 4)}
            for k, v in counter.most_common(top)
        ]

    return {"samples": total, "by_project_function": shares(ours), "by_leaf_function": shares(leaves),
            "by_process": shares(processes)}  # fmt: skip


def main() -> int:
    split = sys.argv.index("--")
    out, options, command = Path(sys.argv[1]), sys.argv[2:split], sys.argv[split + 1 :]
    rate = options[options.index("--rate") + 1] if "--rate" in options else "50"
    folded = out.with_suffix(".folded")
    out.parent.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    done = subprocess.run(
        [py_spy, "record", "--subprocesses", "--rate", rate, "--format", "raw", "--output", str(folded),
         "--nonblocking", "--", *command],
        check=False,
    )  # fmt: skip
    summary = summarise(folded)
    summary["command"] = [_relative(arg) for arg in command]
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
