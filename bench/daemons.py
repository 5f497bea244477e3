#!/usr/bin/env python3
"""Several `newshound run` daemons sharing one PostgreSQL (docs/postgres.md): how fast 1, 2 and 3
daemons store a cold corpus of N feeds, with the CPU of each daemon and of PostgreSQL.

Generates the corpus of bench/run.py (bench/corpus.py), serves it with nginx on 127.0.0.1, and for
each daemon count makes a fresh database on 127.0.0.1:5432 (trust auth, $PGUSER or root), starts the
daemons with one config and waits until every feed has been fetched once. Reports the wall time to
that point, items stored per second, each daemon's CPU (user + sys, /proc) and the CPU of the
server's processes (every `postgres` process, before and after), all from this machine's counters.
The daemons' first round is spread over the interval (20 s here), so a wall time near 20 s says
"the spread", not the store.

  python3 bench/daemons.py --feeds 2000 --items 20 --daemons 1 2 3

Standard library only; nginx and PostgreSQL's client tools (createdb, dropdb, psql) are needed.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (bench/run.py: the nginx config and the topics)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_cpu():
    """CPU seconds of every process named postgres (the server and its backends)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += cpu_of(pid)
    return total


def psql(pg, db, sql):
    return subprocess.check_output(["psql", *pg, "-d", db, "-tAc", sql], text=True).strip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds", type=int, default=2000)
    p.add_argument("--items", type=int, default=20)
    p.add_argument("--topics", type=int, default=100)
    p.add_argument("--daemons", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--port", type=int, default=18081)
    p.add_argument("--timeout", type=int, default=900, help="give up on a count after this many seconds")
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/newshound"))
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="newshound-daemons-")
    os.chmod(tmp, 0o755)
    corpus = os.path.join(tmp, "corpus")
    subprocess.check_output([sys.executable, os.path.join(ROOT, "bench/corpus.py"), "generate", corpus,
                             "--feeds", str(a.feeds), "--items", str(a.items)])
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(bench.NGINX_CONF.format(tmp=tmp, port=a.port, corpus=corpus, gzip="on"))
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    user = os.environ.get("PGUSER", "root")
    pg = ["-h", "127.0.0.1", "-p", "5432", "-U", user]
    results = []
    try:
        for n in a.daemons:
            db = f"newshound_daemons_{os.getpid()}_{n}"
            subprocess.run(["dropdb", *pg, "--if-exists", db], check=True)
            subprocess.run(["createdb", *pg, db], check=True)
            cfg = os.path.join(tmp, f"daemons{n}.toml")
            with open(cfg, "w") as fh:
                fh.write(f'[storage]\nurl = "postgres://{user}@127.0.0.1:5432/{db}?sslmode=disable"\nlease = "2m"\n'
                         '[defaults]\ninterval = "20s"\nmin_interval = "10s"\nconcurrency = 32\nper_host_concurrency = 32\n'
                         'host_spacing = "0s"\naddress_guard = "off"\n[alerts]\nmax_age = "off"\n\n')
                for f in range(a.feeds):
                    fh.write(f'[[feeds]]\nname = "feed{f}"\nurl = "http://127.0.0.1:{a.port}/feed{f}.xml"\n')
                fh.write("\n" + bench.topics(a.topics))
            pg_before = postgres_cpu()
            start = time.monotonic()
            procs = [subprocess.Popen([a.binary, "--config", cfg, "--log-level", "error", "run"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
            done = 0
            cpu = [0.0] * n
            while time.monotonic() - start < a.timeout:
                time.sleep(1)
                cpu = [max(c, cpu_of(pr.pid)) for c, pr in zip(cpu, procs)]
                try:
                    done = int(psql(pg, db, "SELECT count(*) FROM feeds WHERE last_fetch_at IS NOT NULL"))
                except subprocess.CalledProcessError:
                    continue
                if done >= a.feeds:
                    break
            wall = time.monotonic() - start
            cpu = [max(c, cpu_of(pr.pid)) for c, pr in zip(cpu, procs)]
            pg_cpu = postgres_cpu() - pg_before
            items = int(psql(pg, db, "SELECT count(*) FROM items"))
            for pr in procs:
                pr.send_signal(signal.SIGTERM)
            for pr in procs:
                pr.wait(timeout=60)
            row = {"daemons": n, "feeds_fetched": done, "wall_s": round(wall, 2), "items": items,
                   "items_per_s": round(items / wall, 1), "daemon_cpu_s": [round(c, 2) for c in cpu],
                   "postgres_cpu_s": round(pg_cpu, 2),
                   "cpu_per_item_us": round((sum(cpu) + pg_cpu) / max(1, items) * 1e6, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
            subprocess.run(["dropdb", *pg, "--if-exists", db])
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
