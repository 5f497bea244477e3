#!/usr/bin/env python3
"""A re-implementation of the story model over one corpus, for asking "what if" in seconds instead
of a build: the pair score (src/stories/score.rs) from each item's weighted terms, links,
components and average link (src/store/story_index.rs), scored like bench/quality.py (judged
pairs, all pairs, hard negatives; whole corpus, even and odd days).

    cargo run --example story_pairs -- ../shared/corpus --terms > /tmp/terms.jsonl
    python3 bench/story_sim.py /tmp/terms.jsonl                 # the model as shipped
    python3 bench/story_sim.py /tmp/terms.jsonl --diagnose      # why positive pairs are missed
    python3 bench/story_sim.py /tmp/terms.jsonl --link 0.2 --average 0.2   # other thresholds

At the shipped values it gives the binary's figures (docs/quality.md). Candidates are every pair
within the window (no index caps). Standard library only.
"""
import argparse
import collections
import itertools
import json
import os
import sys
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Model:
    threshold = 0.30
    same_feed = 0.55
    name_share = 0.3
    min_shared = 12.0
    min_content = 0.10
    time_scale = 18.0
    window = 2 * 86400
    same_article = 0.70
    average = 0.15


def load(corpus, terms_path):
    items = [json.loads(l) for l in open(os.path.join(corpus, "items.jsonl"), encoding="utf-8")]
    terms = {}
    for line in open(terms_path, encoding="utf-8"):
        d = json.loads(line)
        # [term, field weight, name?, idf] → term: (weight, name?)
        d["w"] = {h: (fw * idf, name) for h, fw, name, idf in d["terms"]}
        terms[d["id"]] = d
    gold = {}
    for line in open(os.path.join(corpus, "stories.jsonl"), encoding="utf-8"):
        s = json.loads(line)
        for i in s["items"]:
            gold[i] = s["story"]
    pairs = [json.loads(l) for l in open(os.path.join(corpus, "pairs.jsonl"), encoding="utf-8")]
    return items, terms, gold, pairs


def score(a, b, m=Model):
    """(total, linked, parts) as src/stories/score.rs computes them."""
    secs = abs(a["at"] - b["at"])
    same_feed = a["feed"] == b["feed"]
    bar = max(m.same_feed, m.threshold) if same_feed else m.threshold
    if secs > m.window:
        return 0.0, False, None
    fa, fb = a["w"], b["w"]
    acc = [[0.0] * 4 for _ in range(2)]  # per part: inter, union, sum a, sum b
    for h, (w, n) in fa.items():
        if h in fb:
            wb, nb = fb[h]
            k = 1 if (n or nb) else 0
            acc[k][0] += min(w, wb)
            acc[k][1] += max(w, wb)
            acc[k][2] += w
            acc[k][3] += wb
        else:
            k = 1 if n else 0
            acc[k][1] += w
            acc[k][2] += w
    for h, (w, n) in fb.items():
        if h not in fa:
            k = 1 if n else 0
            acc[k][1] += w
            acc[k][3] += w

    def overlap(x):
        inter, union, sa, sb = x
        smaller = min(sa, sb)
        return 0.0 if union <= 0 or smaller <= 0 else (inter / union + inter / smaller) / 2

    names, content, shared = overlap(acc[1]), overlap(acc[0]), acc[0][0]
    union = acc[0][1] + acc[1][1]
    jaccard = (acc[0][0] + acc[1][0]) / union if union > 0 else 0.0
    hours = secs / 3600
    time = 1 / (1 + (hours / m.time_scale) ** 2)
    parts = dict(names=names, content=content, shared=shared, jaccard=jaccard, time=time,
                 hours=hours, same_feed=same_feed)
    if jaccard >= m.same_article:
        return 1.0, True, parts
    both = acc[1][2] > 0 and acc[1][3] > 0
    text = m.name_share * names + (1 - m.name_share) * content if both else content
    total = text * time
    return total, total >= bar and shared >= m.min_shared and content >= m.min_content, parts


def pair_scores(terms, m=Model):
    ids = sorted(terms, key=lambda i: (terms[i]["at"], i))
    scores, links = {}, set()
    for x, a in enumerate(ids):
        for b in ids[x + 1:]:
            if terms[b]["at"] - terms[a]["at"] > m.window:
                break
            t, linked, _ = score(terms[a], terms[b], m)
            if t > 0:
                scores[(a, b)] = scores[(b, a)] = t
            if linked:
                links.add((a, b))
                links.add((b, a))
    return ids, scores, links


def components(ids, links):
    parent = {i: i for i in ids}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    comps = collections.defaultdict(list)
    for i in ids:
        comps[find(i)].append(i)
    return list(comps.values())


def average_link(comp, scores, links, threshold):
    clusters = [[i] for i in comp]
    while True:
        best = None
        for p in range(len(clusters)):
            for q in range(p + 1, len(clusters)):
                total, linked = 0.0, False
                for i in clusters[p]:
                    for j in clusters[q]:
                        total += scores.get((i, j), 0.0)
                        linked |= (i, j) in links
                mean = total / (len(clusters[p]) * len(clusters[q]))
                if linked and mean >= threshold and (best is None or mean > best[0]):
                    best = (mean, p, q)
        if best is None:
            return clusters
        _, p, q = best
        clusters[p] += clusters.pop(q)


def partition(terms, m=Model):
    ids, scores, links = pair_scores(terms, m)
    labels = {}
    for c, comp in enumerate(components(ids, links)):
        for k, cluster in enumerate(average_link(comp, scores, links, m.average)):
            for i in cluster:
                labels[i] = f"{c}.{k}"
    return labels, scores, links


def figures(labels, items, gold, pairs, subset=None):
    keep = (lambda i: True) if subset is None else (lambda i: i in subset)
    tp = fp = fn = hn = hn_merged = 0
    for p in pairs:
        if p["same"] == "uncertain" or not (keep(p["a"]) and keep(p["b"])):
            continue
        same = labels.get(p["a"]) is not None and labels.get(p["a"]) == labels.get(p["b"])
        if p["same"] is True:
            tp, fn = tp + same, fn + (not same)
        else:
            fp += same
            hn, hn_merged = hn + 1, hn_merged + same
    uncertain = {tuple(sorted((p["a"], p["b"]))) for p in pairs if p["same"] == "uncertain"}

    def pairs_in(groups):
        return sum(1 for g in groups.values() for a, b in itertools.combinations(sorted(g), 2)
                   if (a, b) not in uncertain)

    pred, real, both = (collections.defaultdict(list) for _ in range(3))
    for it in items:
        i = it["id"]
        if not keep(i):
            continue
        pl, gl = labels.get(i), gold.get(i)
        if pl is not None:
            pred[pl].append(i)
        if gl is not None:
            real[gl].append(i)
        if pl is not None and gl is not None:
            both[(pl, gl)].append(i)
    same_pred, same_gold, agree = pairs_in(pred), pairs_in(real), pairs_in(both)
    return (f"P {tp / max(1, tp + fp):.3f} R {tp / max(1, tp + fn):.3f}, all pairs P "
            f"{agree / max(1, same_pred):.3f} R {agree / max(1, same_gold):.3f}, hard negatives "
            f"merged {hn_merged}/{hn}")


def report(labels, items, gold, pairs):
    day = {it["id"]: datetime.fromisoformat(it["published"].replace("Z", "+00:00")).date().toordinal() % 2
           for it in items}
    print("whole corpus:", figures(labels, items, gold, pairs))
    print("even days:   ", figures(labels, items, gold, pairs, {i for i, d in day.items() if d == 0}))
    print("odd days:    ", figures(labels, items, gold, pairs, {i for i, d in day.items() if d == 1}))


def diagnose(labels, scores, links, terms, gold, pairs):
    positives = [(p["a"], p["b"]) for p in pairs if p["same"] is True]
    linked = sum((a, b) in links for a, b in positives)
    comp = {}
    for c, members in enumerate(components(sorted(terms), links)):
        for i in members:
            comp[i] = c
    print(f"positive pairs: {len(positives)}; linked directly {linked}; in one link component "
          f"{sum(comp[a] == comp[b] for a, b in positives)}; in one story "
          f"{sum(labels[a] == labels[b] for a, b in positives)}")
    for cut in (0.15, 0.2, 0.25, 0.3):
        print(f"  positive pairs scoring >= {cut}: {sum(scores.get((a, b), 0) >= cut for a, b in positives)}")
    best_in, best_out = collections.Counter(), collections.Counter()
    uncertain = {tuple(sorted((p["a"], p["b"]))) for p in pairs if p["same"] == "uncertain"}
    for (a, b), t in scores.items():
        if gold.get(a) is not None and gold.get(a) == gold.get(b):
            best_in[a] = max(best_in[a], t)
        elif tuple(sorted((a, b))) not in uncertain:
            best_out[a] = max(best_out[a], t)
    in_story = [i for i in terms if gold.get(i)]
    alone = [i for i in terms if not gold.get(i)]

    def q(xs, fs):
        xs = sorted(xs)
        return " ".join(f"{f:.0%}:{xs[int(len(xs) * f)]:.2f}" for f in fs)

    print(f"items of multi-item stories whose best pair is in their story: "
          f"{sum(best_in[i] > best_out[i] for i in in_story)} of {len(in_story)}")
    print("  their best in-story pair score, quantiles:", q([best_in[i] for i in in_story], (0.1, 0.25, 0.5)))
    print("  single items' best pair score, quantiles: ", q([best_out[i] for i in alone], (0.5, 0.75, 0.9)))
    missed = collections.Counter()
    for a, b in positives:
        if labels[a] != labels[b]:
            missed[gold[a]] += 1
    print("missed positive pairs by story:", missed.most_common(8))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("terms", help="output of `cargo run --example story_pairs -- CORPUS --terms`")
    ap.add_argument("--corpus", default=os.environ.get("NEWSHOUND_CORPUS", os.path.join(ROOT, "..", "shared", "corpus")))
    ap.add_argument("--link", type=float, help="cross-feed link threshold (shipped 0.30)")
    ap.add_argument("--same-feed", type=float, help="same-feed link threshold (shipped 0.55)")
    ap.add_argument("--average", type=float, help="average-link threshold (shipped 0.15)")
    ap.add_argument("--name-share", type=float, help="share of names in the text part (shipped 0.3)")
    ap.add_argument("--time-scale", type=float, help="hours at which the time factor halves (shipped 18)")
    ap.add_argument("--diagnose", action="store_true", help="say where the positive pairs are lost")
    a = ap.parse_args()
    for arg, attr in (("link", "threshold"), ("same_feed", "same_feed"), ("average", "average"),
                      ("name_share", "name_share"), ("time_scale", "time_scale")):
        if getattr(a, arg) is not None:
            setattr(Model, attr, getattr(a, arg))
    items, terms, gold, pairs = load(a.corpus, a.terms)
    labels, scores, links = partition(terms)
    report(labels, items, gold, pairs)
    if a.diagnose:
        diagnose(labels, scores, links, terms, gold, pairs)


if __name__ == "__main__":
    sys.exit(main())
