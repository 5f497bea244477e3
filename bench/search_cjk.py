#!/usr/bin/env python3
"""Search tokenizers compared on real text: newshound's CJK bigrams over unicode61 (what the index
uses, src/search.rs) against FTS5's trigram tokenizer. For every CJK substring of 1, 2 and 3
characters found in the items (and for English words on English items), the items a search
returns are compared with the items whose title or summary holds the substring.

  python3 bench/search_cjk.py --bin target/debug/newshound FEED_OR_ITEMS_FILE...

A feed file is read with `newshound parse --json`; a .jsonl file is the corpus's items.jsonl
(title, summary, lang). Prints recall, precision and index size per tokenizer.
"""
import argparse
import json
import os
import re
import sqlite3
import subprocess
import tempfile

CJK = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")


def is_cjk(c):
    return bool(CJK.match(c))


def index_text(s):
    """src/search.rs index_text, ported."""
    if not any(is_cjk(c) for c in s):
        return s
    out, run = [], []

    def flush():
        if not run:
            return
        out.append(" ")
        if len(run) == 1:
            out.append(run[0])
        else:
            for a, b in zip(run, run[1:]):
                out.append(a + b + " ")
        out.append(" ")
        run.clear()

    for c in s:
        if is_cjk(c):
            run.append(c)
        else:
            flush()
            out.append(c)
    flush()
    return "".join(out)


def bigram_query(term):
    """src/search.rs Query::to_fts for one word."""
    q = '"' + index_text(term).replace('"', '""') + '"'
    alnum = [c for c in term if c.isalnum()]
    if alnum and is_cjk(alnum[-1]) and (len(alnum) == 1 or not is_cjk(alnum[-2])):
        q += " *"
    return q


def load(paths, binary):
    docs = []
    for p in paths:
        if p.endswith(".jsonl"):
            for line in open(p, encoding="utf-8"):
                d = json.loads(line)
                docs.append((d.get("title", ""), d.get("summary", "")))
        else:
            out = subprocess.run([binary, "parse", "--json", p], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                d = json.loads(line)
                if d.get("kind") == "entry":
                    docs.append((d["title"], d["summary"]))
    return docs


def build(docs, tokenizer, transform):
    path = tempfile.mktemp(suffix=".db")
    db = sqlite3.connect(path)
    db.execute(f"CREATE VIRTUAL TABLE f USING fts5(title, summary, content='', tokenize='{tokenizer}')")
    db.executemany("INSERT INTO f (rowid, title, summary) VALUES (?, ?, ?)",
                   [(i, transform(t), transform(s)) for i, (t, s) in enumerate(docs)])
    db.commit()
    db.execute("VACUUM")
    size = os.path.getsize(path)
    return db, path, size


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/debug/newshound")
    p.add_argument("--max-queries", type=int, default=400)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    docs = load(a.files, a.bin)
    texts = [(t + "\n" + s) for t, s in docs]
    empty_db, empty_path, empty = build([], "unicode61", lambda x: x)
    bi, bi_path, bi_size = build(docs, "unicode61 remove_diacritics 2", index_text)
    tri, tri_path, tri_size = build(docs, "trigram", lambda x: x)
    chars = sum(len(t) for t in texts)
    print(f"{len(docs)} items, {chars} characters of title and summary")
    print(f"index size: bigrams {(bi_size - empty) / 1024:.0f} KiB, trigram {(tri_size - empty) / 1024:.0f} KiB")
    queries = {}
    for n in (1, 2, 3):
        seen = []
        for t in texts:
            for run in re.findall(f"{CJK.pattern}+", t):
                for i in range(len(run) - n + 1):
                    s = run[i:i + n]
                    if s not in seen:
                        seen.append(s)
        queries[f"CJK, {n} char"] = seen[:: max(1, len(seen) // a.max_queries)][: a.max_queries]
    words = []
    for t in texts:
        for w in re.findall(r"[A-Za-z]{4,}", t):
            if w.lower() not in words:
                words.append(w.lower())
    queries["English words"] = words[:: max(1, len(words) // a.max_queries)][: a.max_queries]
    for kind, qs in queries.items():
        if not qs:
            continue
        stats = {"bigrams": [0, 0, 0], "trigram": [0, 0, 0]}  # found, returned, expected
        for q in qs:
            if kind == "English words":
                expected = {i for i, t in enumerate(texts) if re.search(rf"\b{q}\b", t, re.I)}
            else:
                expected = {i for i, t in enumerate(texts) if q in t}
            for name, db, fts in (("bigrams", bi, bigram_query(q)), ("trigram", tri, '"' + q + '"')):
                got = {r[0] for r in db.execute("SELECT rowid FROM f WHERE f MATCH ?", (fts,))}
                st = stats[name]
                st[0] += len(got & expected)
                st[1] += len(got)
                st[2] += len(expected)
        for name, (found, returned, expected) in stats.items():
            recall = found / expected if expected else 0
            precision = found / returned if returned else 0
            print(f"{kind:14} ({len(qs):3} queries) {name:8} recall {recall:6.1%}  precision {precision:6.1%}")
    for path in (empty_path, bi_path, tri_path):
        os.remove(path)


if __name__ == "__main__":
    main()
