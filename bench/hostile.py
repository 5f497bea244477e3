#!/usr/bin/env python3
"""The daemon against a hostile fleet on loopback: schedule adherence, shutdown time, peak memory.

Serves feeds from many loopback addresses (127.0.0.x: distinct hosts for the per-host limits) with
an asyncio server: healthy feeds (one story, ETag, 304 after the first poll), and endpoints that
refuse to connect in time, stall before or after their headers, drip, send endless or huge bodies,
gzip bombs, redirect loops, and worst-case documents. Runs the real binary with the default limits
(only intervals and the grace shortened) and prints what it measured.

  bench/hostile.py schedule --feeds 100 --stalling 20 --secs 40   # healthy intervals vs schedule
  bench/hostile.py once --feeds 100 --stalling 20                 # `once` twice: stalls known the 2nd time
  bench/hostile.py sigterm --phase body                           # SIGTERM-to-exit time
  bench/hostile.py docs                                           # peak RSS of `once` per document
  bench/hostile.py fleet --secs 60                                # peak RSS of `run`, whole fleet

--bin PATH picks the binary (default: target/release/newshound).
"""
import argparse
import asyncio
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18090
CAP = 16 * 1024 * 1024  # the default max_body_size


def rss_doc(items, extra=""):
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
            f'<link>https://x.example/</link>{extra}{items}</channel></rss>').encode()


def fill(make, limit=CAP - 4096):
    """As many entries from make(i) as fit under `limit` bytes."""
    parts, size, i = [], 0, 0
    while True:
        p = make(i)
        if size + len(p) > limit:
            return "".join(parts), i
        parts.append(p)
        size += len(p)
        i += 1


def documents():
    """name -> bytes: documents just under the default 16 MiB cap, the worst each format allows."""
    docs = {}
    items, _ = fill(lambda i: f"<item><guid>g{i}</guid><title>Story {i}</title></item>")
    docs["rss-max-items"] = rss_doc(items)
    items, _ = fill(lambda i: f"<item><guid>g{i}</guid><title>Story {i}</title><link>https://x.example/{i}</link>"
                    f"<description>Words about story {i}.</description></item>")
    docs["rss-100k-items"] = rss_doc(items)
    entries, _ = fill(lambda i: f"<entry><id>urn:{i}</id><title>Story {i}</title><updated>2026-01-01T00:00:00Z</updated></entry>")
    docs["atom-max-entries"] = (f'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>{entries}</feed>').encode()
    items, _ = fill(lambda i: f'<item rdf:about="https://r.example/{i}"><title>t{i}</title><link>https://r.example/{i}</link></item>')
    docs["rdf-max-items"] = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
                             f'<channel rdf:about="x"><title>R</title><link>https://r.example/</link><description>d</description></channel>{items}</rdf:RDF>').encode()
    items, n = fill(lambda i: json.dumps({"id": str(i), "title": f"Story {i}", "url": f"https://j.example/{i}"}) + ",")
    docs["json-max-items"] = ('{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [' + items.rstrip(",") + "]}").encode()
    big = "<p>" + ("Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit. " * 250) + "</p>"
    items, _ = fill(lambda i: f"<item><guid>g{i}</guid><title>Story {i}</title><description><![CDATA[{big}]]></description></item>")
    docs["rss-1000-16k-entries"] = rss_doc(items)
    items, _ = fill(lambda i: f"<item><guid>g{i}</guid><title>{'T' * (1 << 20)}</title></item>")
    docs["rss-1mb-titles"] = rss_doc(items)
    depth = 500_000
    docs["deep-nesting"] = rss_doc("<item><guid>g</guid><title>t</title><description>" + "<x>" * depth + "</x>" * depth + "</description></item>")
    items, _ = fill(lambda i: json.dumps({"id": str(i), "title": f"Story {i}", "content_html": big}) + ",")
    docs["json-1000-16k-items"] = ('{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [' + items.rstrip(",") + "]}").encode()
    esc = "&lt;p&gt;" + ("Escaped &amp;amp; markup &lt;b&gt;bold&lt;/b&gt; " * 300) + "&lt;/p&gt;"
    items, _ = fill(lambda i: f"<item><guid>g{i}</guid><title>Story {i}</title><description>{esc}</description></item>")
    docs["rss-escaped-html"] = rss_doc(items)
    return docs


class Fleet:
    """The server: routes by host and path; every request's arrival time recorded."""

    def __init__(self):
        self.routes = {}  # (ip, path) -> kind or bytes
        self.requests = []  # (monotonic time, ip, path)
        self.lock = threading.Lock()
        self.blocked = []  # listeners whose backlog is full (connect stalls)

    def add(self, ip, path, reply):
        self.routes[(ip, path)] = reply
        return f"http://{ip}:{PORT}{path}"

    def connect_stall(self, ip):
        """A listener that never accepts, its backlog filled: connects hang (SYNs dropped)."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, PORT))
        s.listen(0)
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect((ip, PORT))
            except BlockingIOError:
                pass
            self.blocked.append(c)
        self.blocked.append(s)
        return f"http://{ip}:{PORT}/feed"

    async def handle(self, reader, writer):
        ip = writer.get_extra_info("sockname")[0]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                with self.lock:
                    self.requests.append((time.monotonic(), ip, path))
                headers = head.decode(errors="replace").lower()
                reply = self.routes.get((ip, path))
                if not await self.reply(writer, reply, headers, ip, path):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def reply(self, w, reply, headers, ip, path):
        def send(status, body=b"", extra=""):
            w.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nContent-Type: application/rss+xml\r\n{extra}\r\n".encode() + body)
        if reply is None:
            send(404)
        elif isinstance(reply, bytes):
            if 'if-none-match: "1"' in headers:
                send(304, extra='ETag: "1"\r\n')
            else:
                send(200, reply, 'ETag: "1"\r\n')
        elif reply == "silent":
            await asyncio.sleep(3600)
        elif reply == "stall":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<rss")
            await w.drain()
            await asyncio.sleep(3600)
        elif reply == "drip":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            while True:
                w.write(b" ")
                await w.drain()
                await asyncio.sleep(0.5)
        elif reply in ("endless", "huge-chunked"):
            w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<rss>")
            block = b" " * 65536
            sent = 0
            while reply == "endless" or sent < 200 << 20:
                w.write(block)
                await w.drain()
                sent += len(block)
            return False
        elif reply == "huge-length":
            w.write(f"HTTP/1.1 200 OK\r\nContent-Length: {200 << 20}\r\n\r\n".encode())
            block = b" " * 65536
            for _ in range(3200):
                w.write(block)
                await w.drain()
            return False
        elif reply == "bomb":
            w.write(f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(BOMB)}\r\n\r\n".encode() + BOMB)
        elif reply == "loop":
            send(302, extra=f"Location: http://{ip}:{PORT}{path}\r\n")
        elif reply.startswith("chain"):
            n = int(reply[5:] or 0)
            send(302, extra=f"Location: http://{ip}:{PORT}/chain{n + 1}\r\n")
        elif reply == "reset":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + rss_doc("<item><title>x</title>")[:5000])
            await w.drain()
            sock = w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return False
        elif reply == "liar":  # says 10 bytes, sends a feed
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/html\r\n\r\n" + rss_doc(""))
        await w.drain()
        return True

    def serve(self, ips):
        loop = asyncio.new_event_loop()

        async def main():
            for ip in ips:
                await asyncio.start_server(self.handle, ip, PORT, reuse_address=True)
            await asyncio.Event().wait()

        threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True).start()
        time.sleep(0.5)

    def after(self, t):
        with self.lock:
            return [r for r in self.requests if r[0] > t]


BOMB = b""


def healthy_doc(tag):
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(time.time() - 1800))
    return rss_doc(f"<item><guid>{tag}</guid><title>Healthy {tag}</title><link>https://h.example/{tag}</link>"
                   f"<pubDate>{date}</pubDate></item>")


def write_config(tmp, feeds, defaults):
    path = os.path.join(tmp, "config.toml")
    with open(path, "w") as f:
        f.write(f'[storage]\npath = "{tmp}/db.sqlite"\n\n[defaults]\n{defaults}\n')
        for name, url in feeds:
            f.write(f'[[feeds]]\nname = "{name}"\nurl = "{url}"\n')
    return path


def start(binary, config):
    return subprocess.Popen([binary, "--config", config, "run"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(os.path.dirname(config), "daemon.log"), "w"))


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc, fleet):
    t = time.monotonic()
    proc.send_signal(15)
    code = proc.wait(timeout=120)
    return code, time.monotonic() - t, len(fleet.after(t + 0.1))


SHORT = 'interval = "500ms"\nmin_interval = "500ms"\n'


def cmd_schedule(args):
    """Healthy feeds (5 a host) among stalling ones (3 a host: before headers, after, dripping)."""
    fleet = Fleet()
    n_bad = args.feeds * args.stalling // 100
    feeds, healthy, ips = [], [], []
    kinds = ["silent", "stall", "drip"]
    n_hosts = (args.feeds - n_bad + 4) // 5
    for i in range(args.feeds):
        if i < n_bad:
            # --mixed: on the healthy feeds' hosts, in turn.
            ip = f"127.0.2.{10 + i % n_hosts}" if args.mixed else f"127.0.1.{10 + i // 3}"
            feeds.append((f"bad{i}", fleet.add(ip, f"/{kinds[i % 3]}{i}", kinds[i % 3])))
        else:
            ip = f"127.0.2.{10 + (i - n_bad) // 5}"
            url = fleet.add(ip, f"/ok{i}", healthy_doc(f"ok{i}"))
            feeds.append((f"ok{i}", url))
            healthy.append((ip, f"/ok{i}"))
        if ip not in ips:
            ips.append(ip)
    fleet.serve(ips)
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp, feeds, SHORT + 'shutdown_grace = "1s"')
        proc = start(args.bin, config)
        t0 = time.monotonic()
        time.sleep(args.secs)
        t1 = time.monotonic()
        stop(proc, fleet)
        if args.keep_log:
            subprocess.run(["cp", os.path.join(tmp, "daemon.log"), args.keep_log])
            subprocess.run(["cp", os.path.join(tmp, "db.sqlite"), args.keep_log + ".db"])
    warm = t0 + args.warmup
    gaps = []
    for ip, path in healthy:
        at = [r[0] for r in fleet.requests if r[1] == ip and r[2] == path and warm <= r[0] <= t1]
        gaps += [b - a for a, b in zip(at, at[1:])]
    gaps.sort()
    firsts = [min((r[0] for r in fleet.requests if (r[1], r[2]) == h), default=None) for h in healthy]
    never = sum(1 for f in firsts if f is None)
    first = max(f for f in firsts if f is not None) - t0
    if not gaps:
        print(f"schedule: {args.feeds} feeds, {n_bad} stalling ({args.stalling}%), {args.secs}s: no healthy feed "
              f"polled twice after the {args.warmup}s warm-up; {never} never polled")
        return
    print(f"schedule: {args.feeds} feeds, {n_bad} stalling ({args.stalling}%), {args.secs}s, after {args.warmup}s warm-up: "
          f"healthy intervals n={len(gaps)} median {statistics.median(gaps):.2f}s p95 {gaps[int(len(gaps) * .95)]:.2f}s "
          f"worst {gaps[-1]:.2f}s (scheduled 2.00-2.20s); every healthy feed first polled within {first:.1f}s")


def cmd_once(args):
    """`once` twice over the schedule's fleet: the second run knows which feeds timed out."""
    fleet = Fleet()
    n_bad = args.feeds * args.stalling // 100
    feeds, ips = [], []
    kinds = ["silent", "stall", "drip"]
    for i in range(args.feeds):
        if i < n_bad:
            ip = f"127.0.1.{10 + i // 3}"
            feeds.append((f"bad{i}", fleet.add(ip, f"/{kinds[i % 3]}{i}", kinds[i % 3])))
        else:
            ip = f"127.0.2.{10 + (i - n_bad) // 5}"
            feeds.append((f"ok{i}", fleet.add(ip, f"/ok{i}", healthy_doc(f"ok{i}"))))
        if ip not in ips:
            ips.append(ip)
    fleet.serve(ips)
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp, feeds, "")
        took = []
        for _ in range(2):
            t = time.monotonic()
            r = subprocess.run([args.bin, "--config", config, "once"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=900)
            took.append((time.monotonic() - t, r.returncode))
    print(f"once: {args.feeds} feeds, {n_bad} stalling ({args.stalling}%), listed first: first run {took[0][0]:.1f}s "
          f"(exit {took[0][1]}), second run {took[1][0]:.1f}s (exit {took[1][1]})")


def cmd_sigterm(args):
    fleet = Fleet()
    feeds, ips = [], []
    for i in range(20):
        ip = f"127.0.3.{10 + i // 5}"
        feeds.append((f"ok{i}", fleet.add(ip, f"/ok{i}", healthy_doc(f"ok{i}"))))
        ips.append(ip)
    for h in range(4):
        ip = f"127.0.4.{10 + h}"
        for j in range(2):
            if args.phase == "connect":
                url = fleet.connect_stall(ip) if j == 0 else f"http://{ip}:{PORT}/feed{j}"
            elif args.phase == "parse":
                url = fleet.add(ip, f"/doc{j}", DOCS_FOR_PARSE)
            else:
                url = fleet.add(ip, f"/{args.phase}{j}", {"headers": "silent", "body": "drip"}[args.phase])
            feeds.append((f"bad{h}-{j}", url))
        if args.phase != "connect":
            ips.append(ip)
    fleet.serve(sorted(set(ips)))
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp, feeds, SHORT + f'shutdown_grace = "{args.grace}"')
        proc = start(args.bin, config)
        time.sleep(args.after)
        code, took, late = stop(proc, fleet)
    print(f"sigterm: polls stalled in {args.phase}, grace {args.grace}: exit code {code} after {took:.2f}s, "
          f"{late} requests started after the signal")


DOCS_FOR_PARSE = b""


def cmd_docs(args):
    docs = documents()
    docs["tiny (baseline)"] = healthy_doc("tiny")
    fleet = Fleet()
    urls = {}
    for i, (name, body) in enumerate(docs.items()):
        urls[name] = fleet.add("127.0.5.1", f"/d{i}", body)
    for name, kind in [("endless body", "endless"), ("200 MB, Content-Length", "huge-length"),
                       ("200 MB, chunked", "huge-chunked"), ("gzip bomb (256 MiB)", "bomb")]:
        urls[name] = fleet.add("127.0.5.1", f"/{kind}", kind)
        docs[name] = b""
    fleet.serve(["127.0.5.1"])
    for name in docs:
        with tempfile.TemporaryDirectory() as tmp:
            config = write_config(tmp, [("doc", urls[name])], "")
            out = subprocess.run(["/usr/bin/time", "-f", "%M %e", args.bin, "--config", config, "once", "--json"],
                                 capture_output=True, text=True)
            kib, secs = out.stderr.strip().splitlines()[-1].split()
            try:
                rep = json.loads(out.stdout.strip().splitlines()[-1])
                what = rep.get("status"), rep.get("new", rep.get("class"))
            except (ValueError, IndexError):
                what = out.stdout.strip()[-80:]
            print(f"doc: {name:24} {len(docs[name]) / 1e6:6.1f} MB  peak RSS {int(kib) / 1024:6.1f} MiB  {float(secs):5.2f}s  {what}")


def cmd_fleet(args):
    """About 70 hostile endpoints on 12 hosts and 30 healthy feeds, for `secs`."""
    global DOCS_FOR_PARSE
    docs = documents()
    fleet = Fleet()
    feeds, ips = [], []
    kinds = ["silent", "stall", "drip", "endless", "huge-length", "huge-chunked", "bomb", "loop", "chain0", "reset", "liar"]
    n = 0
    for h in range(6):
        ip = f"127.0.6.{10 + h}"
        ips.append(ip)
        for k in kinds:
            feeds.append((f"bad{n}", fleet.add(ip, f"/{k}{h}", k)))
            n += 1
    for h, (name, body) in enumerate(docs.items()):
        ip = f"127.0.7.{10 + h}"
        ips.append(ip)
        for j in range(2):
            feeds.append((f"doc{n}", fleet.add(ip, f"/{name}{j}", body)))
            n += 1
    for i in range(30):
        ip = f"127.0.8.{10 + i // 5}"
        ips.append(ip)
        feeds.append((f"ok{i}", fleet.add(ip, f"/ok{i}", healthy_doc(f"ok{i}"))))
    fleet.serve(sorted(set(ips)))
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp, feeds, 'interval = "2s"\nmin_interval = "1s"\nshutdown_grace = "2s"')
        proc = start(args.bin, config)
        peak, samples = 0.0, []
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.secs:
            time.sleep(1)
            peak = vm_hwm_mib(proc.pid)
        code, took, late = stop(proc, fleet)
    hostile = sum(1 for f in feeds if not f[0].startswith("ok"))
    print(f"fleet: {len(feeds)} feeds ({hostile} hostile) for {args.secs}s: peak RSS {peak:.1f} MiB, "
          f"{len(fleet.requests)} requests; SIGTERM: exit {code} after {took:.2f}s, {late} requests after it")


def main():
    global BOMB, DOCS_FOR_PARSE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(ROOT, "target/release/newshound"))
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("schedule")
    s.add_argument("--feeds", type=int, default=100)
    s.add_argument("--stalling", type=int, default=20, help="percent of feeds that stall or drip")
    s.add_argument("--secs", type=int, default=40)
    s.add_argument("--warmup", type=int, default=10)
    s.add_argument("--keep-log", help="copy the daemon's log (and database, PATH.db) here")
    s.add_argument("--mixed", action="store_true", help="the stalling feeds on the healthy feeds' hosts")
    s = sub.add_parser("sigterm")
    s.add_argument("--phase", choices=["connect", "headers", "body", "parse"], default="body")
    s.add_argument("--grace", default="2s")
    s.add_argument("--after", type=float, default=4.0, help="seconds before SIGTERM")
    s = sub.add_parser("once")
    s.add_argument("--feeds", type=int, default=100)
    s.add_argument("--stalling", type=int, default=20, help="percent of feeds that stall or drip")
    sub.add_parser("docs")
    s = sub.add_parser("fleet")
    s.add_argument("--secs", type=int, default=60)
    args = p.parse_args()
    BOMB = gzip.compress(b"\0" * (256 << 20), compresslevel=9)
    if args.cmd == "sigterm" and args.phase == "parse":
        DOCS_FOR_PARSE = documents()["rss-1000-16k-entries"]
    {"schedule": cmd_schedule, "once": cmd_once, "sigterm": cmd_sigterm, "docs": cmd_docs,
     "fleet": cmd_fleet}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
