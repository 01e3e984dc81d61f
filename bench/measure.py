"""Run a command and report its wall time, CPU time and peak RSS summed over the whole process tree.

Usage: python bench/measure.py OUT.json -- COMMAND [ARGS...]
The tree includes Dask workers and any Prefect server the command starts.
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


def main() -> int:
    out, command = sys.argv[1], sys.argv[sys.argv.index("--") + 1 :]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak, cpu = 0, {}
    while child.poll() is None:
        rss = 0
        for proc in _tree(root):
            try:
                rss += proc.memory_info().rss
                times = proc.cpu_times()
                cpu[proc.pid] = times.user + times.system + times.children_user + times.children_system
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
