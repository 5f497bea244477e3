#!/usr/bin/env python3
"""End-to-end benchmark of `newshound once`: cold, warm (all 304) and update (10% of feeds changed).

Generates a corpus (corpus.py), serves it with nginx on 127.0.0.1 (ETag, Last-Modified, gzip), writes a
config with N feeds and T topics, and runs the release binary R times per scenario, reporting medians of
wall time, CPU time (user+sys) and peak RSS, plus what newshound reported (requests by status, new
items, merged duplicates) and the database size.

  bench/run.py --feeds 1000 --items 50 --topics 100 --runs 5
  bench/run.py --storage postgres     # into PostgreSQL on 127.0.0.1:5432 (a database created per cold
                                      # run, dropped at the end; $PGUSER or root, trust auth). The CPU
                                      # reported is newshound's only, not the server's.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  types {{ application/rss+xml xml; }}
  sendfile on; keepalive_requests 100000;
  gzip {gzip}; gzip_types application/rss+xml; gzip_min_length 256; gzip_comp_level 1;
  etag on; if_modified_since exact;
  server {{ listen 127.0.0.1:{port}; root {corpus}; }}
}}
"""

TOPIC_WORDS = ("minister president summit talks election market bank rates inflation energy climate storm quake "
               "trade tariff export chip defense alliance court parliament budget vaccine company merger rocket "
               "satellite police flood festival film sport champion visit treaty sanction protest strike").split()


NAMES = "Ishiba Trump Xi Modi Macron Scholz Meloni Lula Albanese Carney Yoon Putin Zelenskyy Biden".split()


def topics(n):
    """Watch-list topics: each a phrase near a name, so each matches a small share of items."""
    out = []
    for i in range(n):
        a, b = TOPIC_WORDS[i % len(TOPIC_WORDS)], TOPIC_WORDS[(i * 7 + 3) % len(TOPIC_WORDS)]
        name = NAMES[i % len(NAMES)]
        out.append(f"[[topics]]\nname = \"t{i}\"\nquery = '''\"{a} {b}*\" NEAR/6 ({name} OR \"prime minister\") -zzz{i}'''\n")
    return "\n".join(out)


def run_once(binary, config):
    start = time.monotonic()
    proc = subprocess.Popen([binary, "--config", config, "--log-level", "error", "once", "--json"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    reports = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
    by_status = {}
    for r in reports:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    return {
        "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "max_rss_mb": ru.ru_maxrss / 1024,
        "exit": os.waitstatus_to_exitcode(status), "by_status": by_status,
        "new": sum(r.get("new", 0) for r in reports), "merged": sum(r.get("merged", 0) for r in reports),
        "alerts": sum(r.get("alerts", 0) for r in reports),
    }


def median_of(rows):
    keys = ("wall_s", "cpu_s", "max_rss_mb")
    m = {k: statistics.median(r[k] for r in rows) for k in keys}
    m.update({k: rows[-1][k] for k in ("by_status", "new", "merged", "alerts", "exit")})
    return m


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--topics", type=int, default=100)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--port", type=int, default=18080)
    p.add_argument("--no-gzip", action="store_true")
    p.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/newshound"))
    p.add_argument("--serve-only", action="store_true",
                   help="generate and serve the corpus, write the config, print its path and wait (Ctrl-C "
                        "stops nginx): for profiling runs by hand, e.g. under perf or heaptrack")
    a = p.parse_args()
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        sys.exit("nginx is needed: apt-get install -y nginx-light")
    if not os.path.exists(a.binary):
        subprocess.check_call(["cargo", "build", "--release", "--locked"], cwd=ROOT)
    tmp = tempfile.mkdtemp(prefix="newshound-bench-")
    os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user
    corpus = os.path.join(tmp, "corpus")
    gen = subprocess.check_output([sys.executable, os.path.join(ROOT, "bench/corpus.py"), "generate", corpus, "--feeds", str(a.feeds), "--items", str(a.items)])
    print("corpus:", gen.decode().strip(), file=sys.stderr)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(NGINX_CONF.format(tmp=tmp, port=a.port, corpus=corpus, gzip="off" if a.no_gzip else "on"))
    nginx = subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        db = os.path.join(tmp, "bench.db")
        pg_user = os.environ.get("PGUSER", "root")
        pg_db = f"newshound_bench_{os.getpid()}"
        pg = ["-h", "127.0.0.1", "-p", "5432", "-U", pg_user]
        storage = (f'url = "postgres://{pg_user}@127.0.0.1:5432/{pg_db}?sslmode=disable"'
                   if a.storage == "postgres" else f'path = "{db}"')
        cfg = os.path.join(tmp, "bench.toml")
        with open(cfg, "w") as fh:
            fh.write(f'[storage]\n{storage}\n[defaults]\nconcurrency = 32\nper_host_concurrency = 32\n[alerts]\nmax_age = "off"\n\n')
            for f in range(a.feeds):
                fh.write(f'[[feeds]]\nname = "feed{f}"\nurl = "http://127.0.0.1:{a.port}/feed{f}.xml"\n')
            fh.write("\n" + topics(a.topics))
        if a.serve_only:
            print(json.dumps({"config": cfg, "database": db, "corpus": corpus}), flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        results = {}
        cold = []
        for _ in range(a.runs):
            if a.storage == "postgres":
                subprocess.run(["dropdb", *pg, "--if-exists", pg_db], check=True)
                subprocess.run(["createdb", *pg, pg_db], check=True)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
            cold.append(run_once(a.binary, cfg))
        results["cold"] = median_of(cold)
        if a.storage == "postgres":
            size = int(subprocess.check_output(["psql", *pg, "-d", pg_db, "-tAc", f"SELECT pg_database_size('{pg_db}')"]))
        else:
            size = os.path.getsize(db)
        results["db_bytes_per_item"] = size / max(1, results["cold"]["new"])
        results["warm"] = median_of([run_once(a.binary, cfg) for _ in range(a.runs)])
        upd = []
        for r in range(a.runs):
            subprocess.check_output([sys.executable, os.path.join(ROOT, "bench/corpus.py"), "mutate", corpus, "--share", "0.1", "--new", "5", "--round", str(r + 1)])
            upd.append(run_once(a.binary, cfg))
        results["update"] = median_of(upd)
        results["setup"] = {"feeds": a.feeds, "items_per_feed": a.items, "topics": a.topics, "runs": a.runs, "gzip": not a.no_gzip, "storage": a.storage}
        print(json.dumps(results, indent=2))
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        if a.storage == "postgres":
            subprocess.run(["dropdb", *pg, "--if-exists", pg_db])


if __name__ == "__main__":
    main()
