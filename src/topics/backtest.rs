//! Labels for backtesting a topic: which items it should match, read from JSON lines.
//!
//! Two line shapes are accepted: `{"link"|"url"|"id": ..., "label": true|false}` (one topic per
//! file), and the corpus's `{"id": ..., "labels": {"TOPIC": true|false|"uncertain"}}` (several
//! topics per file; `"uncertain"` and absent topics are left out). Stored items are found by
//! link; an id is turned into a link through an id→link map (e.g. the corpus's `items.jsonl`),
//! or else taken as a stored item's own id.

use std::collections::HashMap;

/// Which item a label is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelKey {
    /// A link, normalized with [`normalize_link`].
    Link(String),
    /// An id with no known link: a stored item's id, if it is one.
    Id(String),
}

/// The labels of one topic.
#[derive(Debug, Default)]
pub struct Labels {
    pub labels: Vec<(LabelKey, bool)>,
    /// Lines left out: uncertain, or not about this topic.
    pub skipped: usize,
}

/// A link as compared: trimmed, the fragment dropped, scheme and host lower-cased.
pub fn normalize_link(link: &str) -> String {
    let link = link.trim();
    let link = link.split_once('#').map_or(link, |(l, _)| l);
    match link.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
        }
        None => link.to_owned(),
    }
}

/// Reads an id→link map from JSON lines with `"id"` and `"link"` (or `"url"`).
pub fn parse_id_links(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let id = v.get("id").and_then(id_text);
        let link = v
            .get("link")
            .or_else(|| v.get("url"))
            .and_then(serde_json::Value::as_str);
        if let (Some(id), Some(link)) = (id, link) {
            out.insert(id, normalize_link(link));
        }
    }
    Ok(out)
}

fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Labels {
    /// Parses the labels of `topic`. Errors name the line.
    pub fn parse(
        text: &str,
        topic: &str,
        id_links: &HashMap<String, String>,
    ) -> Result<Labels, String> {
        let mut out = Labels::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = || format!("line {}", n + 1);
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{}: {e}", at()))?;
            let label = match (v.get("label"), v.get("labels")) {
                (Some(l), _) => l
                    .as_bool()
                    .ok_or_else(|| format!("{}: \"label\" must be true or false", at()))?,
                (None, Some(ls)) => match ls.get(topic) {
                    Some(serde_json::Value::Bool(b)) => *b,
                    _ => {
                        out.skipped += 1;
                        continue;
                    }
                },
                (None, None) => {
                    return Err(format!("{}: no \"label\" or \"labels\"", at()));
                }
            };
            let link = v
                .get("link")
                .or_else(|| v.get("url"))
                .and_then(serde_json::Value::as_str);
            let key = match (link, v.get("id").and_then(id_text)) {
                (Some(link), _) => LabelKey::Link(normalize_link(link)),
                (None, Some(id)) => match id_links.get(&id) {
                    Some(link) => LabelKey::Link(link.clone()),
                    None => LabelKey::Id(id),
                },
                (None, None) => {
                    return Err(format!("{}: no \"link\", \"url\" or \"id\"", at()));
                }
            };
            out.labels.push((key, label));
        }
        Ok(out)
    }
}

/// Precision, recall and F1 from counts (0 when undefined).
pub fn prf(tp: usize, fp: usize, fn_: usize) -> (f64, f64, f64) {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (p, r) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_line_shapes_parse_and_uncertain_is_left_out() {
        let ids = HashMap::from([("dv1".to_owned(), "https://a.example/1".to_owned())]);
        let text = r#"{"link": "HTTPS://A.example/2#x", "label": true}
{"url": "https://a.example/3", "label": false}
{"id": "dv1", "labels": {"t": true, "u": false}}
{"id": "dv2", "labels": {"t": "uncertain"}}
{"id": 7, "label": false}
"#;
        let l = Labels::parse(text, "t", &ids).unwrap();
        assert_eq!(
            l.labels,
            [
                (LabelKey::Link("https://a.example/2".into()), true),
                (LabelKey::Link("https://a.example/3".into()), false),
                (LabelKey::Link("https://a.example/1".into()), true),
                (LabelKey::Id("7".into()), false),
            ]
        );
        assert_eq!(l.skipped, 1);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = Labels::parse("{\"link\": \"x\"}\n", "t", &HashMap::new()).unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
        let e = Labels::parse("\n{\"label\": true}\n", "t", &HashMap::new()).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }

    #[test]
    fn scores() {
        assert_eq!(prf(2, 2, 0), (0.5, 1.0, 2.0 / 3.0));
        assert_eq!(prf(0, 0, 0), (0.0, 0.0, 0.0));
    }
}
