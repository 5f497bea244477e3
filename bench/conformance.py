#!/usr/bin/env python3
"""Differential conformance: newshound's `parse --json` against Python's feedparser.

For every document of the corpus (the real feeds in ../shared/corpus/feeds/, the repository's
fixtures in tests/fixtures/feeds/, and the small documents of bench/conformance_cases.py), both
parsers read the same bytes, served over loopback HTTP with the same headers, and their readings
are compared per entry (id, title, link, published, updated) and per feed (title). It prints
agreement per format and per field, then every disagreement.

feedparser is installed with pip into a venv (default /tmp/newshound-conformance-venv). It does
not read JSON Feed: JSON documents are compared with what the JSON itself says, read by the
spec's field names (`reference_json`).

Deliberate differences, normalised on both sides the same way (see docs/conformance.md):
- titles are compared as plain text: tags stripped, entities decoded, whitespace collapsed
  (newshound strips HTML from titles; feedparser keeps the markup of html titles);
- a title newshound made from the summary (`title_source` "summary") counts as no title;
- dates are compared as UTC to the second.

    python3 bench/conformance.py [--bin target/debug/newshound] [--only NAME] [--min-agreement 0.98]

Exit status 1 when agreement is below --min-agreement, a well-formed document yields no item, a
document panics or hangs, or (with --strict, as CI runs it) any disagreement is not explained in
EXPLAINED.
"""

import argparse
import calendar
import html
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import venv
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import conformance_cases  # noqa: E402
from conformance_dates import human_date  # noqa: E402

FIELDS = ["id", "title", "link", "published", "updated"]

# Disagreements examined one by one (docs/conformance.md): (document, field) → why. "reference"
# marks feedparser misreading what the document says; "deliberate" a documented choice of
# newshound's. Both are still printed and counted in the raw agreement.
EXPLAINED = {
    ("corpus/netnewswire__kc0011.rss", "published"): "reference: '2020/1/10 14:33:00' read as 2020-12-01 00:00",
    ("corpus/feed-rs__rss_2.0_nbcny.xml", "published"): "reference: '02:02:33 PM' read as 02:02:33",
    ("corpus/feed-rs__rss_2.0_ilmessaggero.xml", "published"): "reference: an Italian day name ('mer, 16 nov 2022') not read",
    ("cases/atom-date-09", "published"): "reference: ISO 8601 basic format '20240102T030405Z' read without its time",
    ("cases/atom-date-09", "updated"): "reference: ISO 8601 basic format '20240102T030405Z' read without its time",
    ("cases/atom-date-13", "published"): "reference: month 13, day 45 read as 2025-01-01",
    ("cases/atom-date-13", "updated"): "reference: month 13, day 45 read as 2025-01-01",
    ("cases/lenient-bare-amp-title", "title"): "reference: a bare '&T' repaired as '&T;'",
    ("fixtures/lenient.xml", "title"): "reference: a bare '&T' repaired as '&T;'",
    ("cases/enc-decl-x-sjis", "title"): "reference: the WHATWG label x-sjis not known, read as windows-1252",
    ("cases/enc-decl-windows-874", "title"): "reference: the WHATWG label windows-874 not known to Python, read as windows-1252",
    ("cases/enc-decl-x-mac-cyrillic", "title"): "reference: the WHATWG label x-mac-cyrillic not known to Python, read as iso-8859-2",
    ("cases/enc-decl-iso-8859-8-i", "title"): "reference: the WHATWG label iso-8859-8-i not known to Python, read as windows-1252",
    ("fixtures/dates-intl.xml", "published"): "reference: German day and month names not read; the arbiter does not know the zone MEZ",
    ("cases/entities-double-escaped", "title"): "deliberate: a title's escaped markup is markup, stripped",
    ("cases/rss-relative-link-xml-base", "id"): "deliberate: the id as published, not resolved against xml:base",
    ("fixtures/one-bad-entry.atom", "id"): "deliberate: an entry with mismatched tags is skipped and reported",
    ("fixtures/one-bad-entry.atom", "title"): "deliberate: an entry with mismatched tags is skipped and reported",
    ("fixtures/one-bad-entry.atom", "link"): "deliberate: an entry with mismatched tags is skipped and reported",
    ("fixtures/one-bad-entry.atom", "published"): "deliberate: an entry with mismatched tags is skipped and reported",
    ("fixtures/one-bad-entry.atom", "updated"): "deliberate: an entry with mismatched tags is skipped and reported",
}


def ensure_feedparser(venv_dir):
    py = Path(venv_dir) / "bin" / "python"
    if not py.exists():
        venv.create(venv_dir, with_pip=True)
    check = subprocess.run([str(py), "-c", "import feedparser"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "feedparser==6.0.14"], check=True)
    return py


FEEDPARSER_SCRIPT = r"""
import calendar, json, sys, feedparser
docs = json.load(sys.stdin)
out = {}
for name, (path, headers) in docs.items():
    data = open(path, 'rb').read()
    d = feedparser.parse(data, response_headers=headers)
    def ts(t):
        return None if not t else calendar.timegm(t)
    # dict.get, not FeedParserDict.get: feedparser 6 answers `updated` with `published` when an
    # entry has no updated date (a deprecated fallback), which is not what the entry said.
    g = dict.get
    out[name] = {
        'bozo': int(bool(d.bozo)),
        'bozo_exception': str(d.get('bozo_exception', '')),
        'version': d.get('version', ''),
        'feed_title': d.feed.get('title'),
        'feed_updated': ts(dict.get(d.feed, 'updated_parsed')),
        'feed_updated_raw': dict.get(d.feed, 'updated'),
        'entries': [
            {
                'id': g(e, 'id'),
                'guidislink': g(e, 'guidislink'),
                'title': g(e, 'title'),
                'link': g(e, 'link'),
                'published': ts(g(e, 'published_parsed')),
                'updated': ts(g(e, 'updated_parsed')),
                'published_raw': g(e, 'published'),
                'updated_raw': g(e, 'updated'),
            }
            for e in d.entries
        ],
    }
json.dump(out, sys.stdout)
"""


def corpus(only):
    docs = []  # (name, bytes, headers, group)
    shared = ROOT.parent.parent / "shared" / "corpus" / "feeds"
    if not shared.exists():
        shared = Path("/work/shared/corpus/feeds")
    for p in sorted(shared.glob("*")):
        if p.name == "MANIFEST.jsonl":
            continue
        docs.append((f"corpus/{p.name}", p.read_bytes(), {}, "corpus"))
    for p in sorted((ROOT / "tests" / "fixtures" / "feeds").glob("*")):
        if p.name.endswith(".expected.jsonl"):
            continue
        docs.append((f"fixtures/{p.name}", p.read_bytes(), {}, "fixtures"))
    for name, data, headers in conformance_cases.cases():
        docs.append((f"cases/{name}", data, headers, "cases"))
    if only:
        docs = [d for d in docs if only in d[0]]
    return docs


class Server:
    """Serves each document at /<index> with its headers."""

    def __init__(self, docs):
        self.docs = docs
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                i = int(self.path.strip("/").split("/")[0])
                _, data, headers, _ = outer.docs[i]
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", default_type(data))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, i):
        return f"http://127.0.0.1:{self.port}/{i}/feed"


def default_type(data):
    """The Content-Type a document without one of its own is served with (no charset: the
    document's own declaration decides, for both parsers)."""
    return "application/json" if data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{") else "application/xml"


def run_newshound(binary, url):
    try:
        r = subprocess.run([binary, "parse", "--json", url], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return {"error": "timeout (30 s)", "hung": True}
    if r.returncode != 0:
        return {"error": r.stderr.decode("utf-8", "replace").strip(), "panic": b"panicked" in r.stderr}
    lines = [json.loads(line) for line in r.stdout.decode("utf-8").splitlines() if line.strip()]
    if lines and "kind" not in lines[0]:
        # The shape before issue #15 (item lines only, `id` the dedup key), to measure old binaries.
        lines = [{"kind": "feed"}] + [
            dict(e, kind="entry", title_source="title",
                 id=e["id"][2:] if e["id"].startswith("g:") else None) for e in lines]
    feed = lines[0] if lines and lines[0].get("kind") == "feed" else {}
    return {"feed": feed, "entries": [line for line in lines if line.get("kind") == "entry"]}


TAG = re.compile(r"<[^>]*>")
WS = re.compile(r"\s+")


def plain(text):
    """Plain text, as both sides are compared: tags stripped, entities decoded, whitespace
    collapsed, control characters dropped."""
    if text is None:
        return ""
    text = TAG.sub(" ", text) if "<" in text else text
    text = html.unescape(text)
    # newshound drops control and bidi formatting characters from stored text (terminal safety).
    text = "".join(c for c in text if (c >= " " or c in "\t\n") and c not in BIDI)
    return WS.sub(" ", text).strip()


BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


def same_text(a, b):
    """Plain texts equal, or equal but for whitespace (where tags were: `ft<sup>2</sup>`)."""
    return a == b or WS.sub("", a) == WS.sub("", b)


def norm_url(u):
    """A URL as a WHATWG parser writes it: scheme and host lower-cased, IDN hosts in punycode,
    spaces and non-ASCII percent-encoded, an empty path as `/`. newshound prints parsed URLs."""
    from urllib.parse import quote, urlsplit, urlunsplit

    if not u:
        return u
    try:
        p = urlsplit(u.strip())
        host = p.hostname or ""
        host = host.encode("idna").decode() if host and not host.isascii() else host
        netloc = host + (f":{p.port}" if p.port else "")
        if p.username:
            netloc = p.username + (f":{p.password}" if p.password else "") + "@" + netloc
        path = quote(p.path, safe="/%:@!$&'()*+,;=-._~") or ("/" if p.scheme in ("http", "https") else "")
        query = quote(p.query, safe="/%:@!$&'()*+,;=-._~?")
        return urlunsplit((p.scheme.lower(), netloc, path, query, p.fragment))
    except ValueError:
        return u


def iso_ts(value):
    if not value:
        return None
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def json_ts(value):
    if not value or not isinstance(value, str):
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # Not RFC 3339, as the spec asks; RFC 822 dates are seen in the wild.
        from email.utils import parsedate_to_datetime

        try:
            d = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp())


def reference_json(data, base):
    """What a JSON Feed document says, read by the spec's field names."""
    from urllib.parse import urljoin

    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("rss"), dict) and isinstance(doc["rss"].get("channel"), dict):
        return reference_rss_json(doc["rss"]["channel"], base)
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")):
        return None
    entries = []
    for it in doc.get("items") or []:
        if not isinstance(it, dict):
            continue
        ident = it.get("id")
        url = it.get("url")
        entries.append({
            "id": None if ident is None else str(ident),
            "title": it.get("title"),
            "link": urljoin(base, url) if isinstance(url, str) else None,
            "published": json_ts(it.get("date_published")),
            "updated": json_ts(it.get("date_modified")),
        })
    version = "json11" if "1.1" in str(doc.get("version")) else "json10"
    return {"bozo": 0, "version": version, "feed_title": doc.get("title"), "entries": entries}


def reference_rss_json(channel, base):
    """What an RSS-in-JSON document (scripting.com's RSS 2.0 written as JSON) says, read by the
    RSS element names: an element with attributes is an object whose text is `#value`."""
    from urllib.parse import urljoin

    def text(v):
        v = v.get("#value") if isinstance(v, dict) else v
        return None if v is None or isinstance(v, (dict, list)) else str(v)

    items = channel.get("item") or []
    items = [items] if isinstance(items, dict) else items
    entries = []
    for it in items:
        if not isinstance(it, dict):
            continue
        link = text(it.get("link"))
        entries.append({
            "id": text(it.get("guid")),
            "title": text(it.get("title")),
            "link": urljoin(base, link.strip()) if link else None,
            "published": json_ts(text(it.get("pubDate"))),
            "updated": None,
            "published_raw": text(it.get("pubDate")),
        })
    return {"bozo": 0, "version": "rssjson", "feed_title": text(channel.get("title")), "entries": entries}


def ours(entry):
    title = entry.get("title") if entry.get("title_source") == "title" else None
    return {
        "id": entry.get("id"),
        "title": plain(title),
        "link": entry.get("url"),
        "published": iso_ts(entry.get("published")),
        "updated": iso_ts(entry.get("updated")),
    }


def theirs(entry):
    return {
        "id": (entry.get("id") or "").strip() or None,
        "title": plain(entry.get("title")),
        "link": (entry.get("link") or "").strip() or None,
        "published": entry.get("published"),
        "updated": entry.get("updated"),
        "guidislink": entry.get("guidislink"),
        "published_raw": entry.get("published_raw"),
        "updated_raw": entry.get("updated_raw"),
    }


def reconcile(r, g, base, fmt):
    """Normalises the documented, deliberate differences (docs/conformance.md) in the
    reference's reading `r` given newshound's `g`; returns the reference to compare with."""
    from urllib.parse import urljoin

    r = dict(r)
    if g is None:
        return r
    # feedparser resolves an id that is not an absolute URI against the base (`t3_abc` becomes
    # `http://host/feed/t3_abc`); newshound prints the id as published.
    # The base may be the document's `xml:base` too: an id that is `r["id"]` resolved against
    # some base is the published id.
    if g["id"] and r["id"] and r["id"] != g["id"] and not _absolute(g["id"]) \
            and r["id"] in (urljoin(base, g["id"]), urljoin(r["id"], g["id"])):
        r["id"] = g["id"]
    # feedparser makes a link of any id when an entry has none (RSS `guid` taken as a permalink,
    # Atom `id`): newshound only of an id that is an absolute http(s) URL.
    if g["link"] is None and r["link"] and r["link"] in (r["id"], urljoin(base, r["id"] or "")) \
            and not (g["id"] or "").startswith(("http://", "https://")):
        r["link"] = None
    # RSS 1.0: newshound takes an item's rdf:about as its link when it has no <link>.
    if fmt in ("rss10", "rss090") and r["link"] is None and g["link"] == g["id"]:
        r["link"] = g["link"]
    # Dublin Core dc:date: feedparser reads it as the updated date, newshound as published (an
    # RSS item has one date: alone, dc:date is it; beside an equal pubDate, it adds nothing).
    if fmt.startswith("rss") and g["updated"] is None and r["updated"] == g["published"]:
        if r["published"] is None:
            r["published"], r["published_raw"] = r["updated"], r["updated_raw"]
        r["updated"], r["updated_raw"] = None, None
    if r["link"] and g["link"] and norm_url(r["link"]) == norm_url(g["link"]):
        r["link"] = g["link"]
    if same_text(r["title"], g["title"]):
        r["title"] = g["title"]
    return r


def align(ref, got):
    """Pairs reference entries with newshound's: in order when the counts agree, else by id,
    then by link. Unpaired reference entries pair with None."""
    if len(ref) == len(got):
        return list(zip(ref, got))
    by_id = {g["id"]: g for g in got if g["id"]}
    by_link = {g["link"]: g for g in got if g["link"]}
    pairs = []
    for r in ref:
        g = by_id.get(r["id"]) if r["id"] else None
        g = g or (by_link.get(r["link"]) if r["link"] else None)
        pairs.append((r, g))
    return pairs


def fmt_ts(t):
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target" / "debug" / "newshound"))
    ap.add_argument("--venv", default="/tmp/newshound-conformance-venv")
    ap.add_argument("--only", help="only documents whose name contains this")
    ap.add_argument("--min-agreement", type=float, default=0.0)
    ap.add_argument("--json", help="write the per-document results here")
    ap.add_argument("--strict", action="store_true", help="fail on any unexplained disagreement (CI)")
    args = ap.parse_args()

    started = time.monotonic()
    py = ensure_feedparser(args.venv)
    docs = corpus(args.only)
    server = Server(docs)

    # feedparser, in one process over files written to a temporary directory.
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="conformance-"))
    fp_in = {}
    for i, (name, data, headers, _) in enumerate(docs):
        path = tmp / str(i)
        path.write_bytes(data)
        h = {k.lower(): v for k, v in headers.items()}
        h["content-location"] = _abs(h.get("content-location"), server.url(i))
        h.setdefault("content-type", default_type(data))
        fp_in[name] = (str(path), h)
    fp = subprocess.run([str(py), "-c", FEEDPARSER_SCRIPT], input=json.dumps(fp_in).encode(),
                        capture_output=True, check=True)
    fp_out = json.loads(fp.stdout)

    totals = {f: [0, 0] for f in FIELDS + ["feed_title", "feed_updated"]}
    totals_raw = {f: [0, 0] for f in FIELDS}
    per_format = {}  # format -> [docs, entries, agree, agree raw]
    per_format_field = {}  # format -> field -> [agree, compared]
    per_group = {}
    entries_total = entries_agree = entries_agree_raw = entries_explained = 0
    disagreements = []
    adjudicated = []
    no_items = []
    crashes = []
    collapsed = []
    results = {}
    for i, (name, data, headers, group) in enumerate(docs):
        base = _abs(headers.get("Content-Location"), server.url(i))
        ref = fp_out[name]
        json_ref = reference_json(data, base) if data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{") else None
        if json_ref is not None:
            ref = json_ref
        ns = run_newshound(args.bin, server.url(i))
        results[name] = {"reference": ref, "newshound": ns}
        if ns.get("panic") or ns.get("hung"):
            crashes.append((name, ns["error"]))
        fmt = ns.get("feed", {}).get("format") or ref.get("version") or "?"
        pf = per_format.setdefault(fmt, [0, 0, 0, 0])
        pf[0] += 1
        pff = per_format_field.setdefault(fmt, {f: [0, 0] for f in FIELDS})
        pg = per_group.setdefault(group, [0, 0, 0, 0])
        pg[0] += 1
        well_formed = ref.get("bozo") == 0 and len(ref["entries"]) > 0
        got = [ours(e) for e in ns.get("entries", [])]
        if well_formed and not got:
            no_items.append((name, ns.get("error", "no entries")))
        # Feed title.
        if "error" not in ns:
            a, b = plain(ref.get("feed_title")), plain(ns["feed"].get("title"))
            totals["feed_title"][1] += 1
            if same_text(a, b):
                totals["feed_title"][0] += 1
            else:
                disagreements.append((name, "-", "feed_title", a, b))
            # The feed's updated date (Atom `updated`, Atom 0.3 `modified`, RSS `lastBuildDate`).
            if "feed_updated" in ref:
                want, have = ref["feed_updated"], iso_ts(ns["feed"].get("updated"))
                totals["feed_updated"][1] += 1
                if want == have or (human_date(ref.get("feed_updated_raw")) == (True, have)):
                    totals["feed_updated"][0] += 1
                else:
                    disagreements.append((name, "-", "feed_updated", fmt_ts(want), fmt_ts(have)))
        fmt_name = ns.get("feed", {}).get("format", "")
        # An id repeated within one document is one item to newshound (its dedup key): the later
        # entries with that id are not compared, only counted.
        ref_entries, seen_ids = [], set()
        for e in ref["entries"]:
            t = theirs(e)
            if t["id"] and t["id"] in seen_ids:
                collapsed.append((name, t["id"]))
                continue
            seen_ids.add(t["id"])
            ref_entries.append(t)
        for r, g in align(ref_entries, got):
            r = reconcile(r, g, base, fmt_name)
            entries_total += 1
            pf[1] += 1
            pg[1] += 1
            all_ok = raw_ok = True
            unexplained = False
            for f in FIELDS:
                totals[f][1] += 1
                totals_raw[f][1] += 1
                pff[f][1] += 1
                want = r[f]
                have = g[f] if g else "<missing>"
                if want == have:
                    totals[f][0] += 1
                    totals_raw[f][0] += 1
                    pff[f][0] += 1
                    continue
                raw_ok = False
                if f in ("published", "updated") and g:
                    # The two parsers read one date text differently: the date a person reads
                    # in it decides (bench/conformance_dates.py), when that reading is certain.
                    text = r.get(f + "_raw")
                    sure, human = human_date(text)
                    if sure and human == have:
                        totals[f][0] += 1
                        pff[f][0] += 1
                        adjudicated.append((name, f, text, fmt_ts(want), fmt_ts(have)))
                        continue
                all_ok = False
                unexplained |= (name, f) not in EXPLAINED
                if f in ("published", "updated"):
                    want, have = fmt_ts(want), (fmt_ts(have) if g else have)
                disagreements.append((name, r["id"] or r["link"] or r["title"][:40], f, want, have))
            entries_agree_raw += raw_ok
            pf[3] += raw_ok
            pg[3] += raw_ok
            if all_ok:
                entries_agree += 1
                pf[2] += 1
                pg[2] += 1
            elif not unexplained:
                entries_explained += 1

    def pct(a, n):
        return f"{100 * a / n:.1f}%" if n else "-"

    print(f"documents: {len(docs)}  entries (reference): {entries_total}  "
          f"time: {time.monotonic() - started:.1f} s")
    print()
    print("per format (newshound's name)   docs  entries  all fields agree  (raw, no date arbiter)")
    for fmt, (d, e, a, ar) in sorted(per_format.items()):
        print(f"  {fmt:29} {d:5} {e:8}  {a:6} ({pct(a, e):>6})  {ar:6} ({pct(ar, e)})")
    print()
    print("per source (corpus: real documents nobody here wrote)   docs  entries  all fields agree  (raw)")
    for group, (d, e, a, ar) in per_group.items():
        print(f"  {group:52} {d:5} {e:8}  {a:6} ({pct(a, e):>6})  {ar:6} ({pct(ar, e)})")
    print()
    print("per format and field (agree / compared)")
    print("  " + f"{'format':12}" + "".join(f"{f:>18}" for f in FIELDS))
    for fmt, fields in sorted(per_format_field.items()):
        if not any(n for _, n in fields.values()):
            continue
        print("  " + f"{fmt:12}" + "".join(f"{f'{a}/{n} {pct(a, n)}':>18}" for a, n in fields.values()))
    print()
    print("per field                agree / compared          raw")
    for f, (a, n) in totals.items():
        raw = totals_raw.get(f, [a, n])
        print(f"  {f:22} {a:6} / {n:<6} ({pct(a, n):>6})  {raw[0]:6} ({pct(raw[0], raw[1])})")
    share = entries_agree / max(entries_total, 1)
    print()
    print(f"entries agreeing on every field: {entries_agree} / {entries_total} ({100 * share:.1f}%)")
    print(f"  raw, without the date arbiter: {entries_agree_raw} / {entries_total} "
          f"({pct(entries_agree_raw, entries_total)})")
    explained_share = (entries_agree + entries_explained) / max(entries_total, 1)
    print(f"  + disagreeing only where explained (EXPLAINED, docs/conformance.md): "
          f"{entries_agree + entries_explained} / {entries_total} ({100 * explained_share:.1f}%)")
    wf = [n for n, _, _, _ in docs if fp_out[n]["bozo"] == 0 and fp_out[n]["entries"]]
    print(f"well-formed documents (feedparser: not bozo, >= 1 entry) yielding no item: {len(no_items)} of {len(wf)}")
    for name, err in no_items:
        print(f"  {name}: {err[:200]}")
    silent = [n for n, _, _, _ in docs if results[n]["reference"]["bozo"]
              and "error" not in results[n]["newshound"] and not results[n]["newshound"]["feed"].get("warnings")]
    print(f"documents feedparser calls bozo that newshound read without a warning: {len(silent)}")
    for name in silent:
        print(f"  {name}: {results[name]['reference'].get('bozo_exception', '')[:120]}")
    print(f"entries not compared: a repeated id, one item to newshound: {len(collapsed)}")
    for name, ident in collapsed:
        print(f"  {name}: {ident}")
    print(f"panics or hangs: {len(crashes)}")
    for name, err in crashes:
        print(f"  {name}: {err[:200]}")
    print()
    print(f"dates read differently, decided by the date a person reads ({len(adjudicated)}): "
          "document | field | text | feedparser | newshound")
    for name, f, text, want, have in adjudicated:
        print(f"  {name} | {f} | {text!r} | {want!r} | {have!r}")
    print()
    print(f"disagreements ({len(disagreements)}): document | entry | field | feedparser | newshound")
    for name, ent, f, want, have in disagreements:
        why = EXPLAINED.get((name, f), "UNEXPLAINED")
        print(f"  {name} | {str(ent)[:60]} | {f} | {want!r} | {have!r} | {why}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    unexplained = [d for d in disagreements if (d[0], d[2]) not in EXPLAINED]
    print(f"unexplained disagreements: {len(unexplained)}")
    failed = share < args.min_agreement or no_items or crashes or (args.strict and unexplained)
    sys.exit(1 if failed else 0)


def _absolute(ident):
    from urllib.parse import urlsplit

    return bool(urlsplit(ident).scheme)


def _abs(location, url):
    from urllib.parse import urljoin

    return urljoin(url, location) if location else url


if __name__ == "__main__":
    main()
