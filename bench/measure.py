"""Run a command and report its wall time, CPU time and peak RSS summed over the whole process tree.

Usage: python bench/measure.py OUT.json [--also PID ...] -- COMMAND [ARGS...]
The tree includes Dask workers and any Prefect server the command starts; ``--also PID`` adds the
tree of a process started before (e.g. a Prefect server the command talks to): its memory while the
command runs, and the CPU time it spends meanwhile.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _cpu(proc: psutil.Process) -> float:
    """The process's own CPU seconds (its children are in the tree and counted there)."""
    times = proc.cpu_times()
    return times.user + times.system


def main() -> int:
    split = sys.argv.index("--")
    out, options, command = sys.argv[1], sys.argv[2:split], sys.argv[split + 1 :]
    others = [
        psutil.Process(int(pid))
        for flag, pid in zip(options[::2], options[1::2], strict=True)
        if flag == "--also"
    ]
    cpu_before = {proc.pid: _cpu(proc) for other in others for proc in _tree(other)}
    started = time.perf_counter()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak, cpu = 0, {}
    while child.poll() is None:
        rss = 0
        for proc in [*_tree(root), *(p for other in others for p in _tree(other))]:
            try:
                rss += proc.memory_info().rss
                cpu[proc.pid] = _cpu(proc) - cpu_before.get(proc.pid, 0.0)
            except psutil.NoSuchProcess:
                continue
        peak = max(peak, rss)
        time.sleep(0.1)
    result = {
        "command": command,
        "returncode": child.returncode,
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(sum(cpu.values()), 2),
        "peak_rss_mb": round(peak / 2**20, 1),
    }
    with open(out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps(result))
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
