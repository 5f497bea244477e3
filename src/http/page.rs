//! The status page: server-rendered HTML for people, readable on a phone, with no script.
//!
//! Every piece of feed text (titles, names, errors, snippets, URLs) is untrusted: it goes through
//! [`push_text`] (HTML-escaped; control characters, line separators and bidi controls shown as
//! `\u{..}`, as in the logs) inside a `<bdi>`, so a right-to-left override cannot turn the text
//! around it; only http(s) URLs become links. The page carries a Content-Security-Policy that
//! runs no script anyway.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::error_class::ErrorClass;
use crate::store::{FeedState, InstanceRow, StoredAlert, StoredStory};

/// Feeds shown on the page, problems first; the others are counted (all are in `/api/feeds`).
pub const MAX_FEEDS: usize = 200;
pub const MAX_ALERTS: usize = 20;
pub const MAX_STORIES: usize = 20;
/// Characters of one piece of feed text shown (titles, errors, snippets).
const MAX_TEXT: usize = 300;

/// What the page shows, read in one go.
pub struct Data {
    pub feeds: Vec<FeedState>,
    pub alerts: Vec<StoredAlert>,
    pub stories: Vec<StoredStory>,
    /// The daemons sharing a PostgreSQL database (none on SQLite): listed when there are any.
    pub instances: Vec<InstanceRow>,
}

/// A feed's health, worst first (the page's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    Failing,
    Retrying,
    Gone,
    Warning,
    NotPolled,
    Ok,
}

impl Health {
    fn of(state: Option<&FeedState>, failing_after: u32) -> Health {
        let Some(s) = state else {
            return Health::NotPolled;
        };
        if s.facts.dead_since.is_some() {
            Health::Gone
        } else if s.facts.consecutive_failures >= failing_after {
            Health::Failing
        } else if s.facts.consecutive_failures > 0 {
            Health::Retrying
        } else if s.last_error_class == Some(ErrorClass::Warning) {
            Health::Warning
        } else if s.last_fetch_at.is_none() {
            Health::NotPolled
        } else {
            Health::Ok
        }
    }

    fn label(self) -> &'static str {
        match self {
            Health::Failing => "failing",
            Health::Retrying => "retrying",
            Health::Gone => "gone",
            Health::Warning => "warning",
            Health::NotPolled => "not polled yet",
            Health::Ok => "ok",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Health::Failing | Health::Gone => "bad",
            Health::Retrying | Health::Warning => "warn",
            Health::NotPolled | Health::Ok => "good",
        }
    }
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#5f6368;--bg:#fff;--card:#f6f7f9;--bad:#b3261e;--warn:#8a5a00;--good:#1e6b34;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--muted:#a8adb3;--bg:#121212;--card:#1e1f22;--bad:#f28b82;--warn:#fdd663;--good:#81c995;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:56rem;padding:0 .75rem 2rem;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:.75rem 0;border-bottom:1px solid var(--card)}
h1{font-size:1.35rem;margin:.2rem 0}h1 a{color:inherit}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
ol,ul{list-style:none;margin:0;padding:0}
li.card{background:var(--card);border-radius:.5rem;padding:.55rem .7rem;margin:.45rem 0;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.85rem}
.why{margin:.25rem 0 0;font-size:.9rem}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:0 .45rem;border-radius:1rem;border:1px solid currentColor;margin-right:.35rem}
.bad{color:var(--bad)}.warn{color:var(--warn)}.good{color:var(--good)}
.error{margin:.25rem 0 0;font-size:.9rem;color:var(--bad)}
.summary{margin:.2rem 0;color:var(--muted)}
form{display:flex;gap:.4rem;margin:.6rem 0 0}
input[type=search]{flex:1;min-width:0;font:inherit;padding:.4rem .55rem;border:1px solid var(--muted);border-radius:.4rem;background:var(--bg);color:var(--fg)}
button{font:inherit;padding:.4rem .8rem;border-radius:.4rem;border:1px solid var(--muted);background:var(--card);color:var(--fg)}
mark{background:none;color:inherit;font-weight:600}
";

/// Renders the page. `configured` is the running config's feed names; `search` whether the
/// search index is kept (the box is shown only then); `now` anchors "5 min ago".
pub fn render(
    data: &Data,
    configured: &[String],
    failing_after: u32,
    search: bool,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::with_capacity(64 * 1024);
    push_head(&mut out, "newshound", search.then_some(""));

    let states: std::collections::HashMap<&str, &FeedState> =
        data.feeds.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut feeds: Vec<(Health, &str, Option<&FeedState>)> = configured
        .iter()
        .map(|name| {
            let state = states.get(name.as_str()).copied();
            (Health::of(state, failing_after), name.as_str(), state)
        })
        .collect();
    feeds.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let count = |h: Health| feeds.iter().filter(|f| f.0 == h).count();
    let _ = write!(
        out,
        "<p class=\"summary\">{} feeds: {} ok, {} failing, {} retrying, {} gone, {} not polled yet · {}</p>",
        feeds.len(),
        count(Health::Ok) + count(Health::Warning),
        count(Health::Failing),
        count(Health::Retrying),
        count(Health::Gone),
        count(Health::NotPolled),
        time_tag(now, now),
    );
    out.push_str("<nav class=\"meta\"><a href=\"#alerts\">alerts</a> · <a href=\"#stories\">stories</a> · <a href=\"#feeds\">all feeds</a> · <a href=\"/api/feeds\">JSON</a> · <a href=\"/metrics\">metrics</a></nav></header>");

    // Feeds that need a look come first; the healthy ones after the alerts and stories.
    let split = feeds.partition_point(|f| f.0 <= Health::Warning);
    let (attention, healthy) = feeds.split_at(split);
    if !attention.is_empty() {
        out.push_str("<section id=\"attention\"><h2>Feeds needing attention</h2>");
        push_feeds(&mut out, attention, now);
        out.push_str("</section>");
    }

    if !data.instances.is_empty() {
        push_instances(&mut out, &data.instances);
    }

    out.push_str("<section id=\"alerts\"><h2>Latest alerts</h2>");
    if data.alerts.is_empty() {
        out.push_str("<p class=\"meta\">No alert yet.</p>");
    } else {
        out.push_str("<ol>");
        for a in &data.alerts {
            out.push_str("<li class=\"card\"><div class=\"meta\"><span class=\"badge warn\">");
            push_text(&mut out, &a.topic);
            out.push_str("</span>");
            out.push_str(&time_tag(a.created, now));
            out.push_str(" · ");
            push_text(&mut out, &a.feed);
            out.push_str("</div><div>");
            push_link(&mut out, &a.title, a.url.as_deref());
            out.push_str("</div><p class=\"why\">matched <mark>");
            push_text(&mut out, &a.terms.join(", "));
            out.push_str("</mark> in ");
            push_text(&mut out, &a.field.replace(',', ", "));
            if !a.snippet.is_empty() {
                out.push_str(": “");
                push_text(&mut out, &a.snippet);
                out.push('”');
            }
            out.push_str("</p></li>");
        }
        out.push_str("</ol>");
    }
    out.push_str("</section>");

    out.push_str("<section id=\"stories\"><h2>Latest stories</h2>");
    if data.stories.is_empty() {
        out.push_str("<p class=\"meta\">No story yet.</p>");
    } else {
        out.push_str("<ol>");
        for st in &data.stories {
            out.push_str("<li class=\"card\"><div>");
            push_link(&mut out, &st.headline, st.url.as_deref());
            let _ = write!(
                out,
                "</div><div class=\"meta\">{} · {} item{} from {} source{}: ",
                time_tag(st.started, now),
                st.items.len(),
                if st.items.len() == 1 { "" } else { "s" },
                st.sources.len(),
                if st.sources.len() == 1 { "" } else { "s" },
            );
            for (i, s) in st.sources.iter().take(12).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_text(&mut out, s);
            }
            if st.sources.len() > 12 {
                let _ = write!(out, " and {} more", st.sources.len() - 12);
            }
            out.push_str("</div></li>");
        }
        out.push_str("</ol>");
    }
    out.push_str("</section>");

    out.push_str("<section id=\"feeds\"><h2>Other feeds</h2>");
    if healthy.is_empty() {
        out.push_str("<p class=\"meta\">None.</p>");
    }
    push_feeds(&mut out, healthy, now);
    out.push_str("</section></body></html>\n");
    out
}

/// Feed cards, at most [`MAX_FEEDS`], and how many more there are.
fn push_feeds(out: &mut String, feeds: &[(Health, &str, Option<&FeedState>)], now: DateTime<Utc>) {
    if feeds.is_empty() {
        return;
    }
    out.push_str("<ul>");
    for (health, name, state) in feeds.iter().take(MAX_FEEDS) {
        let _ = write!(
            out,
            "<li class=\"card\"><div><span class=\"badge {}\">{}</span>",
            health.class(),
            health.label()
        );
        push_text(out, name);
        out.push_str("</div>");
        if let Some(s) = state {
            push_feed_details(out, s, now);
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    if feeds.len() > MAX_FEEDS {
        let _ = write!(
            out,
            "<p class=\"meta\">and {} more; every feed is in <a href=\"/api/feeds\">/api/feeds</a>.</p>",
            feeds.len() - MAX_FEEDS
        );
    }
}

fn push_feed_details(out: &mut String, s: &FeedState, now: DateTime<Utc>) {
    out.push_str("<div class=\"meta\">last success ");
    match s.last_success_at {
        Some(t) => out.push_str(&time_tag(t, now)),
        None => out.push_str("never"),
    }
    if let Some(since) = s.facts.dead_since {
        out.push_str(" · HTTP 410 Gone ");
        out.push_str(&time_tag(since, now));
        out.push_str("; no longer polled");
    } else if let Some(next) = s.next_poll_at {
        out.push_str(" · next poll ");
        out.push_str(&time_tag(next, now));
        if let Some(reason) = &s.schedule_reason {
            out.push_str(" (");
            push_text(out, reason);
            out.push(')');
        }
    }
    let _ = write!(out, " · {} items</div>", s.items);
    if let Some(e) = &s.last_error {
        let class = s.last_error_class.map_or("error", ErrorClass::as_str);
        let _ = write!(
            out,
            "<p class=\"{}\">",
            if class == "warning" {
                "why warn"
            } else {
                "error"
            }
        );
        if s.facts.consecutive_failures > 0 {
            let _ = write!(
                out,
                "{} failure(s) in a row: ",
                s.facts.consecutive_failures
            );
        }
        push_text(out, class);
        out.push_str(": ");
        push_text(out, e);
        out.push_str("</p>");
    }
}

/// The document's head, the page's title and the search box (holding `query`; none without one).
fn push_head(out: &mut String, title: &str, query: Option<&str>) {
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    push_escaped(out, title, MAX_TEXT);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><header><h1><a href=\"/\">newshound</a></h1>");
    let Some(query) = query else {
        return;
    };
    out.push_str("<form action=\"/search\" method=\"get\" role=\"search\"><input type=\"search\" name=\"q\" aria-label=\"Search stored items\" placeholder=\"Search stored items\" value=\"");
    push_escaped(out, query, usize::MAX);
    out.push_str("\"><button type=\"submit\">Search</button></form>");
}

/// The search page: the hits for `query`, or why there are none.
pub fn render_search(
    query: &str,
    hits: Result<Vec<crate::search::Hit>, String>,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::with_capacity(32 * 1024);
    push_head(
        &mut out,
        &format!("{query} · newshound search"),
        Some(query),
    );
    out.push_str("</header><section id=\"results\">");
    match hits {
        Err(message) => {
            out.push_str("<p class=\"error\">");
            push_text(&mut out, &message);
            out.push_str("</p>");
        }
        Ok(hits) if hits.is_empty() => {
            out.push_str("<p class=\"meta\">No stored item matches.</p>")
        }
        Ok(hits) => {
            let _ = write!(
                out,
                "<h2>{} result{}</h2><ol>",
                hits.len(),
                if hits.len() == 1 { "" } else { "s" }
            );
            for h in &hits {
                out.push_str("<li class=\"card\"><div>");
                push_link(&mut out, &h.title, h.url.as_deref());
                out.push_str("</div><div class=\"meta\">");
                out.push_str(&time_tag(h.published.unwrap_or(h.first_seen), now));
                out.push_str(" · ");
                push_text(&mut out, &h.feed);
                if let Some(story) = h.story_id {
                    let _ = write!(out, " · story #{story}");
                }
                out.push_str("</div>");
                if !h.snippet.is_empty() {
                    out.push_str("<p class=\"why\">");
                    push_text(&mut out, &h.snippet);
                    out.push_str("</p>");
                }
                out.push_str("</li>");
            }
            out.push_str("</ol>");
        }
    }
    out.push_str("</section></body></html>\n");
    out
}

/// `<time>` with the exact UTC time, showing "5 min ago" / "in 2 h".
/// The daemons sharing the database, as `newshound instances` lists them.
fn push_instances(out: &mut String, instances: &[InstanceRow]) {
    out.push_str("<section id=\"instances\"><h2>Daemons on this database</h2><ol>");
    for i in instances {
        out.push_str("<li class=\"card\"><div>");
        push_text(out, &i.id);
        let _ = write!(
            out,
            "</div><div class=\"meta\"><span class=\"badge{}\">{}</span> heartbeat {:.1}s ago · {} lease{} held · pid {} on ",
            if i.live { "" } else { " warn" },
            if i.live { "live" } else { "stale" },
            i.heartbeat_age_ms as f64 / 1000.0,
            i.leases,
            if i.leases == 1 { "" } else { "s" },
            i.pid,
        );
        push_text(out, &i.host);
        out.push_str("</div></li>");
    }
    out.push_str("</ol></section>");
}

fn time_tag(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let ago = match n {
        0..=59 if !future => "just now".to_owned(),
        0..=59 => "in under a minute".to_owned(),
        _ => {
            let amount = match n {
                60..=3599 => format!("{} min", n / 60),
                3600..=172_799 => format!("{} h", n / 3600),
                _ => format!("{} days", n / 86_400),
            };
            if future {
                format!("in {amount}")
            } else {
                format!("{amount} ago")
            }
        }
    };
    format!(
        "<time datetime=\"{}\" title=\"{}\">{ago}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        t.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The title as a link to `url` when that is an http(s) URL, else as text.
fn push_link(out: &mut String, title: &str, url: Option<&str>) {
    let safe = url
        .and_then(|u| url::Url::parse(u).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    match safe {
        Some(u) => {
            out.push_str("<a rel=\"noopener noreferrer nofollow\" href=\"");
            push_escaped(out, u.as_str(), usize::MAX);
            out.push_str("\">");
            push_text(out, title);
            out.push_str("</a>");
        }
        None => push_text(out, title),
    }
}

/// Untrusted text as an isolated, escaped run: `<bdi>…</bdi>`.
pub fn push_text(out: &mut String, s: &str) {
    out.push_str("<bdi>");
    push_escaped(out, s, MAX_TEXT);
    out.push_str("</bdi>");
}

/// HTML-escapes `s` for text and quoted attributes; control characters, line separators and
/// bidi controls become a visible `\u{..}`; cut at `max` characters.
fn push_escaped(out: &mut String, s: &str, max: usize) {
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(' '),
            c if c.is_control() || crate::text::is_format_hazard(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_text_is_escaped_and_isolated() {
        let mut out = String::new();
        push_text(
            &mut out,
            "<script>alert(1)</script>\"><img src=x onerror=alert(1)>\u{202e}gpj.exe",
        );
        assert_eq!(
            out,
            "<bdi>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\\u{202e}gpj.exe</bdi>"
        );
    }

    #[test]
    fn only_http_urls_become_links() {
        let mut out = String::new();
        push_link(&mut out, "t", Some("javascript:alert(1)"));
        assert_eq!(out, "<bdi>t</bdi>");
        out.clear();
        push_link(&mut out, "t", Some("https://n.example/a?b=\"c\"&d"));
        assert!(
            out.contains("href=\"https://n.example/a?b=%22c%22&amp;d\""),
            "{out}"
        );
    }

    #[test]
    fn failing_feeds_come_first() {
        let ok = FeedState {
            name: "a-ok".into(),
            last_fetch_at: Some(Utc::now()),
            ..Default::default()
        };
        let bad = FeedState {
            name: "z-bad".into(),
            last_fetch_at: Some(Utc::now()),
            facts: crate::store::FeedFacts {
                consecutive_failures: 5,
                ..Default::default()
            },
            last_error_class: Some(ErrorClass::Timeout),
            last_error: Some("timed out".into()),
            ..Default::default()
        };
        let data = Data {
            feeds: vec![ok, bad],
            alerts: vec![],
            stories: vec![],
            instances: vec![],
        };
        let html = render(
            &data,
            &["a-ok".into(), "z-bad".into(), "new".into()],
            3,
            true,
            Utc::now(),
        );
        let (bad, ok, new) = (
            html.find("z-bad").unwrap(),
            html.find("a-ok").unwrap(),
            html.find(">new<").unwrap(),
        );
        assert!(bad < new && new < ok, "{html}");
        assert!(html.contains("3 feeds: 1 ok, 1 failing, 0 retrying, 0 gone, 1 not polled yet"));
    }
}
