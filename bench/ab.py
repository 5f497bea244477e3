#!/usr/bin/env python3
"""Cold `newshound once` runs of two or more binaries, taking turns on the same corpus and config,
so that a slow spell of a shared machine weighs on all of them alike; prints each one's medians.

  python3 bench/run.py --serve-only &          # prints the config path; leave it running
  python3 bench/ab.py --config /tmp/newshound-bench-XXXX/bench.toml --runs 9 OLD_BINARY NEW_BINARY
"""
import argparse
import os
import statistics
import subprocess
import time


def cold_run(binary, config):
    db = os.path.join(os.path.dirname(config), "bench.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    start = time.monotonic()
    proc = subprocess.Popen([binary, "--config", config, "--log-level", "error", "once", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(proc.pid, 0)
    return time.monotonic() - start, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("binaries", nargs="+")
    a = p.parse_args()
    rows = {b: [] for b in a.binaries}
    for _ in range(a.runs):
        for b in a.binaries:
            rows[b].append(cold_run(b, a.config))
    for b, r in rows.items():
        wall, cpu, rss = (statistics.median(x[i] for x in r) for i in range(3))
        print(f"{b}: cold wall {wall:.3f} s, CPU {cpu:.3f} s, peak RSS {rss:.1f} MB (medians of {a.runs})")


if __name__ == "__main__":
    main()
