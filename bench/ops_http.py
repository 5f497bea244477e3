#!/usr/bin/env python3
"""The operations listener at scale: `/metrics` scrape time and status page render time with
10,000 feeds and 100,000 items, and the idle daemon's RSS with the listener on and off.

Writes FEEDS file feeds of ITEMS items each (RSS 2.0, distinct titles) and a config with
`[http]`, stores them with one `once`, then starts `run` (every feed's next poll is an hour away,
so the daemon is idle) and times requests to it with curl. Prints medians.

  bench/ops_http.py --binary target/release/newshound --feeds 10000 --items 10 --runs 15
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

WORDS = ("minister president summit talks election market bank rates inflation energy climate storm quake "
         "trade tariff export chip defense alliance court parliament budget vaccine company merger rocket "
         "satellite police flood festival film sport champion visit treaty sanction protest strike").split()


def write_corpus(tmp, feeds, items):
    os.makedirs(os.path.join(tmp, "feeds"))
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(time.time() - 3600))
    n = 0
    for f in range(feeds):
        parts = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>feed {f}</title>'
                 f'<link>https://f{f}.example/</link>']
        for i in range(items):
            n += 1
            w = [WORDS[(n * k + f) % len(WORDS)] for k in (1, 3, 7, 11, 13)]
            parts.append(f"<item><guid>f{f}-{i}</guid><title>{' '.join(w)} {n}</title>"
                         f"<link>https://f{f}.example/{i}</link><description>{' '.join(reversed(w))} story {n}"
                         f"</description><pubDate>{date}</pubDate></item>")
        parts.append("</channel></rss>")
        with open(os.path.join(tmp, "feeds", f"{f}.xml"), "w") as fh:
            fh.write("".join(parts))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(tmp, feeds, port, http):
    with open(os.path.join(tmp, "bench.toml"), "w") as fh:
        fh.write('[storage]\npath = "bench.db"\n[defaults]\ninterval = "1h"\nadaptive = false\n'
                 '[alerts]\nmax_age = "off"\n')
        if http:
            fh.write(f'[http]\nlisten = "127.0.0.1:{port}"\n')
        # Twenty topics, each a pair of words (few matches), and one single word (many).
        for t, w in enumerate(WORDS[:20]):
            fh.write(f'[[topics]]\nname = "t{t}"\nquery = "{w} {WORDS[(t * 7 + 3) % len(WORDS)]}"\n')
        fh.write('[[topics]]\nname = "summit"\nquery = "summit"\n')
        for f in range(feeds):
            fh.write(f'[[feeds]]\nname = "feed {f}"\nurl = "feeds/{f}.xml"\n')
    return os.path.join(tmp, "bench.toml")


def timed_get(url):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "200", out
    return float(out[1]), int(out[2])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        fields = dict(l.split(":", 1) for l in fh)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def wait_ready(base, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("the daemon exited")
        try:
            if subprocess.run(["curl", "-fs", "-o", "/dev/null", base + "/readyz"]).returncode == 0:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the daemon never got ready")


def idle_rss(binary, config, settle):
    proc = subprocess.Popen([binary, "--config", config, "--log-level", "warn", "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(settle)
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait()
    return rss


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/newshound")
    p.add_argument("--feeds", type=int, default=10_000)
    p.add_argument("--items", type=int, default=10)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = p.parse_args()
    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="newshound-ops-")
    try:
        write_corpus(tmp, a.feeds, a.items)
        port = free_port()
        config = write_config(tmp, a.feeds, port, http=True)
        t = time.monotonic()
        subprocess.run([binary, "--config", config, "--log-level", "error", "once"], stdout=subprocess.DEVNULL,
                       check=True)
        print(f"stored {a.feeds} feeds x {a.items} items in {time.monotonic() - t:.1f}s; "
              f"database {os.path.getsize(os.path.join(tmp, 'bench.db')) / 2**20:.0f} MiB")
        proc = subprocess.Popen([binary, "--config", config, "--log-level", "warn", "run"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc)
            time.sleep(2)
            for path in ("/metrics", "/", "/api/feeds", "/api/alerts", "/api/stories", "/healthz"):
                timed_get(base + path)  # warm: the reader connection and its page cache
                runs = [timed_get(base + path) for _ in range(a.runs)]
                ms = statistics.median(r[0] for r in runs) * 1000
                print(f"GET {path}: median {ms:.1f} ms over {a.runs} runs, {runs[0][1] / 1024:.0f} KiB")
            rss, hwm = rss_kib(proc.pid)
            print(f"daemon after the requests: RSS {rss / 1024:.1f} MiB, peak {hwm / 1024:.1f} MiB")
        finally:
            proc.terminate()
            proc.wait()
        on = idle_rss(binary, config, 5)
        off = idle_rss(binary, write_config(tmp, a.feeds, port, http=False), 5)
        print(f"idle daemon ({a.feeds} feeds, 5 s after start): RSS with [http] {on[0] / 1024:.1f} MiB, "
              f"without {off[0] / 1024:.1f} MiB")
    finally:
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
