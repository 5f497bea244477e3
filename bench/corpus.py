#!/usr/bin/env python3
"""Deterministic feed corpus for newshound's end-to-end benchmark.

N feeds x M items, a mix of RSS 2.0 (60%), Atom (25%) and RSS 1.0 (15%), realistic sizes (~1.5 KB per
item), generated from a seed. Known duplicates: about 10% of items are a story that also appears in
another feed, linked with other tracking parameters (and sometimes a different headline case), so a
correct run stores fewer unique items than it reads. `mutate` adds new items to a share of the feeds.

  corpus.py generate DIR --feeds 1000 --items 50 --seed 1
  corpus.py mutate DIR --share 0.1 --new 5 --round 1
"""
import argparse
import json
import os
import random
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

WORDS = ("minister president summit talks election market shares bank rates inflation energy climate "
         "storm quake tsunami trade tariff export chip semiconductor defense alliance security court "
         "ruling parliament budget tax reform vaccine hospital school student company earnings profit "
         "loss merger acquisition startup rocket launch satellite research study report police arrest "
         "fire flood drought harvest festival museum film music sport match league champion record "
         "visit plan schedule meeting delegation treaty sanction protest strike union wage city port").split()
NAMES = "Ishiba Trump Xi Modi Macron Scholz Meloni Lula Albanese Carney Yoon Putin Zelenskyy Biden".split()
BASE = datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc)
FUNCTION = "the a of to in and for on with after before is was by as at from that".split()


def _vocabulary():
    """The listed words plus 20,000 generated ones: news text has a long tail of rare words
    (names, places, specifics), which is what tells stories apart."""
    rng = random.Random(12345)
    syl = "ka to ri men sa lo vi der an po gu ne sh ira tal mo ber zu kel vo".split()
    words = list(WORDS)
    while len(words) < 20000:
        words.append("".join(rng.choice(syl) for _ in range(rng.randint(2, 4))))
    return words


VOCAB = _vocabulary()


def word(rng):
    # Squared uniform: a few words are common, most are rare.
    u = rng.random()
    return VOCAB[int(u * u * len(VOCAB))]


def sentence(rng, n):
    words = [rng.choice(FUNCTION) if i % 3 == 1 else word(rng) for i in range(n)]
    if rng.random() < 0.5:
        words[rng.randrange(n)] = rng.choice(NAMES)
    return " ".join(words).capitalize()


def story(rng, sid):
    title = sentence(rng, rng.randint(7, 13))
    paras = [sentence(rng, rng.randint(15, 30)) + "." for _ in range(rng.randint(3, 6))]
    body = "".join(f"<p>{p}</p>" for p in paras)
    return {"sid": sid, "title": title, "body": body, "url": f"https://news{sid % 97}.example/story/{sid}"}


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(fmt, feed_id, items):
    if fmt == "rss2":
        out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Feed {feed_id}</title>'
               f'<link>https://feed{feed_id}.example/</link><description>Generated</description>']
        for it in items:
            out.append(f"<item><title>{esc(it['title'])}</title><link>{esc(it['link'])}</link>"
                       f"<guid isPermaLink=\"false\">{it['guid']}</guid><pubDate>{format_datetime(it['date'])}</pubDate>"
                       f"<description>{esc(it['body'])}</description><category>news</category></item>")
        out.append("</channel></rss>\n")
    elif fmt == "atom":
        out = [f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>Feed {feed_id}</title>'
               f'<id>urn:feed:{feed_id}</id><updated>{BASE.isoformat()}</updated>']
        for it in items:
            out.append(f"<entry><id>{it['guid']}</id><title>{esc(it['title'])}</title><link href=\"{esc(it['link'])}\"/>"
                       f"<published>{it['date'].isoformat()}</published><updated>{it['date'].isoformat()}</updated>"
                       f"<summary type=\"html\">{esc(it['body'])}</summary></entry>")
        out.append("</feed>\n")
    else:
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
               'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
               f'<channel rdf:about="https://feed{feed_id}.example/"><title>Feed {feed_id}</title>'
               f'<link>https://feed{feed_id}.example/</link><description>Generated</description></channel>']
        for it in items:
            out.append(f"<item rdf:about=\"{esc(it['link'])}\"><title>{esc(it['title'])}</title><link>{esc(it['link'])}</link>"
                       f"<dc:date>{it['date'].isoformat()}</dc:date><description>{esc(it['body'])}</description></item>")
        out.append("</rdf:RDF>\n")
    return "".join(out)


def fmt_of(rng):
    r = rng.random()
    return "rss2" if r < 0.6 else ("atom" if r < 0.85 else "rss1")


def make_item(rng, feed_id, n, pool, dup_share, used=None):
    used = set() if used is None else used
    if pool and rng.random() < dup_share and len(used) < len(pool):
        s = rng.choice(pool)
        while s["sid"] in used:  # a story appears at most once per feed
            s = rng.choice(pool)
        used.add(s["sid"])
        link = s["url"] + f"?utm_source=feed{feed_id}&utm_medium=rss"
        title = s["title"] if rng.random() < 0.5 else s["title"].upper()
        return {"guid": f"f{feed_id}-i{n}", "title": title, "link": link, "body": s["body"],
                "date": BASE - timedelta(minutes=n), "dup": True}
    sid = feed_id * 100000 + n
    s = story(rng, sid)
    pool.append(s)
    return {"guid": f"f{feed_id}-i{n}", "title": s["title"], "link": s["url"], "body": s["body"],
            "date": BASE - timedelta(minutes=n), "dup": False}


def generate(args):
    rng = random.Random(args.seed)
    os.makedirs(args.dir, exist_ok=True)
    pool, state, dups = [], {}, 0
    for f in range(args.feeds):
        fmt = fmt_of(rng)
        used = set()
        items = [make_item(rng, f, n, pool, 0.1, used) for n in range(args.items)]
        dups += sum(1 for i in items if i["dup"])
        state[f] = {"fmt": fmt, "next": args.items, "items": [{k: (v.isoformat() if k == "date" else v) for k, v in i.items()} for i in items]}
        with open(os.path.join(args.dir, f"feed{f}.xml"), "w") as fh:
            fh.write(render(fmt, f, items))
    with open(os.path.join(args.dir, "state.json"), "w") as fh:
        json.dump({"seed": args.seed, "feeds": state, "dups": dups}, fh)
    print(json.dumps({"feeds": args.feeds, "items": args.feeds * args.items, "cross_feed_duplicates": dups}))


def mutate(args):
    with open(os.path.join(args.dir, "state.json")) as fh:
        st = json.load(fh)
    rng = random.Random(st["seed"] * 1000 + args.round)
    ids = sorted(st["feeds"], key=int)
    chosen = rng.sample(ids, max(1, int(len(ids) * args.share)))
    for f in chosen:
        fs = st["feeds"][f]
        items = [dict(i, date=datetime.fromisoformat(i["date"])) for i in fs["items"]]
        new = []
        for _ in range(args.new):
            n = fs["next"]
            fs["next"] += 1
            it = make_item(rng, int(f), n, [], 0.0)
            it["date"] = BASE + timedelta(minutes=n)
            new.append(it)
        items = (new + items)[: len(items)]
        fs["items"] = [{k: (v.isoformat() if k == "date" else v) for k, v in i.items()} for i in items]
        with open(os.path.join(args.dir, f"feed{f}.xml"), "w") as fh:
            fh.write(render(fs["fmt"], int(f), items))
    with open(os.path.join(args.dir, "state.json"), "w") as fh:
        json.dump(st, fh)
    print(json.dumps({"mutated_feeds": len(chosen), "new_items": len(chosen) * args.new}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir")
    g.add_argument("--feeds", type=int, default=1000)
    g.add_argument("--items", type=int, default=50)
    g.add_argument("--seed", type=int, default=1)
    m = sub.add_parser("mutate")
    m.add_argument("dir")
    m.add_argument("--share", type=float, default=0.1)
    m.add_argument("--new", type=int, default=5)
    m.add_argument("--round", type=int, default=1)
    a = p.parse_args()
    generate(a) if a.cmd == "generate" else mutate(a)


if __name__ == "__main__":
    main()
