//! Average-link clustering of one component's items: the stories a set of linked items makes.
//!
//! Pure: pair scores and which pairs are linked in, clusters out. The story index builds the
//! matrix from what it holds in memory and calls [`average_link`]; the policy (how clusters merge,
//! at what mean) lives here, beside the pair score.

/// The mean pair score at which two clusters of one component merge into one story.
pub const AVERAGE_LINK: f64 = 0.15;

/// Pair scores of `n` items, row-major `n × n`: `score[i * n + j]`, and whether that pair is
/// linked (its score reached its bar). Either triangle may hold a pair; both are read.
pub struct Pairs {
    pub n: usize,
    pub score: Vec<f64>,
    pub linked: Vec<bool>,
}

impl Pairs {
    pub fn new(n: usize) -> Pairs {
        Pairs {
            n,
            score: vec![0.0; n * n],
            linked: vec![false; n * n],
        }
    }
}

/// Average-link clusters of items `0..n` (given in date order), each sorted, the clusters by
/// their first item. From single items, the two clusters with the highest mean pair score (every
/// pair counts, linked or not) merge while that mean reaches [`AVERAGE_LINK`] and some pair
/// between them is linked; ties go to the earliest pair of clusters, so the result depends only
/// on the matrix.
pub fn average_link(p: &Pairs) -> Vec<Vec<usize>> {
    let n = p.n;
    let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for a in 0..clusters.len() {
            for b in (a + 1)..clusters.len() {
                let (mut total, mut any_link) = (0.0, false);
                for &i in &clusters[a] {
                    for &j in &clusters[b] {
                        total += p.score[i * n + j];
                        any_link |= p.linked[i * n + j] || p.linked[j * n + i];
                    }
                }
                let mean = total / (clusters[a].len() * clusters[b].len()) as f64;
                if any_link && mean >= AVERAGE_LINK && best.is_none_or(|(m, _, _)| mean > m) {
                    best = Some((mean, a, b));
                }
            }
        }
        let Some((_, a, b)) = best else {
            break;
        };
        let merged = clusters.remove(b);
        clusters[a].extend(merged);
        clusters[a].sort_unstable();
    }
    clusters.sort_by_key(|c| c[0]);
    clusters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize, edges: &[(usize, usize, f64, bool)]) -> Pairs {
        let mut p = Pairs::new(n);
        for &(i, j, s, l) in edges {
            p.score[i * n + j] = s;
            p.score[j * n + i] = s;
            p.linked[i * n + j] = l;
        }
        p
    }

    #[test]
    fn a_chain_is_not_one_story_when_its_ends_have_nothing_in_common() {
        // 0–1 and 1–2 linked at 0.4, 0 and 2 share nothing: {0,1} forms, then its mean to 2 is
        // (0 + 0.4) / 2 = 0.2 ≥ 0.15, so 2 joins; with a weaker 1–2 (0.25) the mean is 0.125 and
        // the chain breaks.
        let joined = pairs(3, &[(0, 1, 0.4, true), (1, 2, 0.4, true)]);
        assert_eq!(average_link(&joined), vec![vec![0, 1, 2]]);
        let broken = pairs(3, &[(0, 1, 0.4, true), (1, 2, 0.25, true)]);
        assert_eq!(average_link(&broken), vec![vec![0, 1], vec![2]]);
    }

    #[test]
    fn clusters_merge_only_through_a_link() {
        // A high mean without any linked pair (scores under each pair's bar) merges nothing.
        let p = pairs(2, &[(0, 1, 0.29, false)]);
        assert_eq!(average_link(&p), vec![vec![0], vec![1]]);
        let p = pairs(2, &[(0, 1, 0.29, true)]);
        assert_eq!(average_link(&p), vec![vec![0, 1]]);
    }
}
