#!/usr/bin/env python3
"""Where the threads of one `newshound once` run spend their time: on a CPU, or runnable but
waiting for one (from /proc/PID/task/TID/schedstat, sampled every 5 ms until the run ends).

  python3 bench/run.py --serve-only &          # prints the config path; leave it running
  python3 bench/threads.py --config /tmp/newshound-bench-XXXX/bench.toml --fresh

--fresh deletes the database (and its WAL) first, for a cold run.
"""
import argparse
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/newshound"))
    p.add_argument("--fresh", action="store_true")
    a = p.parse_args()
    if a.fresh:
        db = os.path.join(os.path.dirname(a.config), "bench.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
    proc = subprocess.Popen([a.binary, "--config", a.config, "--log-level", "error", "once", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    last, names = {}, {}
    while proc.poll() is None:
        try:
            tids = os.listdir(f"/proc/{proc.pid}/task")
        except FileNotFoundError:
            break
        for tid in tids:
            try:
                with open(f"/proc/{proc.pid}/task/{tid}/stat") as fh:
                    st = fh.read()
                with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as fh:
                    last[tid] = [int(x) for x in fh.read().split()]
                names[tid] = st[st.index("(") + 1:st.rindex(")")]
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        time.sleep(0.005)
    wall = time.monotonic() - start
    by_name = {}
    for tid, (on_cpu, waiting, slices) in last.items():
        t = by_name.setdefault(names[tid], [0, 0, 0, 0])
        t[0] += on_cpu / 1e9
        t[1] += waiting / 1e9
        t[2] += slices
        t[3] += 1
    print(f"wall {wall:.2f} s (the last 5 ms of each thread may be missing)")
    for name, (on_cpu, waiting, slices, n) in sorted(by_name.items(), key=lambda kv: -kv[1][0]):
        print(f"  {name:<18} {n:>3} thread(s): on a CPU {on_cpu:6.2f} s, runnable but waiting {waiting:6.2f} s, {slices} slices")


if __name__ == "__main__":
    main()
