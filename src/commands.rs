//! What each subcommand does. Each returns the process exit code; `main` only maps errors.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{
    AlertsArgs, ImportArgs, ItemsArgs, ListArgs, OnceArgs, ParseArgs, StoriesArgs,
    TopicsExplainArgs, TopicsTestArgs,
};
use crate::config::{self, Config, ConfigError, FeedSource};
use crate::poll::{self, FeedReport, PollResult, Poller};
use crate::store::{self, IngestPolicy, Store};
use crate::text::Untrusted;
use crate::topics::{Matcher, TopicSpec, snippet};

/// Process exit codes (sysexits where one fits).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    /// A bad command line: unknown flag or value, an invalid log filter (clap uses 2 too).
    pub const USAGE: i32 = 2;
    /// `once` completed, but at least one feed failed (the others were stored).
    pub const SOME_FEEDS_FAILED: i32 = 10;
    /// EX_CANTCREAT: the database cannot be created or opened.
    pub const CANT_OPEN_DB: i32 = 73;
    /// EX_CONFIG: the config is invalid.
    pub const CONFIG: i32 = 78;
    /// 128 + SIGINT: a second SIGTERM/SIGINT during shutdown stopped `run` at once.
    pub const INTERRUPTED: i32 = 130;
}

/// Loads the config, printing errors to stderr; `Err(code)` to exit with.
pub fn load_config(path: &Path) -> Result<Config, i32> {
    config::load(path).map_err(|e| {
        match &e {
            ConfigError::Read { .. } => eprintln!("error: {e}"),
            ConfigError::Invalid(_) => eprintln!("{e}"),
        }
        exit::CONFIG
    })
}

/// Prints a completion script for `shell`, generated from the command-line definition.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "newshound", &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Ok(()) => exit::OK,
        Err(_) => exit::FAILURE,
    }
}

/// Prints the man page, generated from the command-line definition, with every subcommand.
pub fn manpage() -> i32 {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    if let Err(e) = render_manpage(&cmd, &mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return exit::FAILURE;
    }
    match std::io::stdout().lock().write_all(&page) {
        Ok(()) => exit::OK,
        Err(_) => exit::FAILURE,
    }
}

fn render_manpage(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    // Each subcommand in a section of its own, its synopsis, description and options as
    // subsections: one page says everything.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{} {}", cmd.get_name(), sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        render_subcommand(sub, &name, out)?;
        for nested in sub.get_subcommands().filter(|s| !s.is_hide_set()) {
            let nested_name = format!("{name} {}", nested.get_name());
            writeln!(out, ".SH \"{}\"", nested_name.to_uppercase())?;
            render_subcommand(nested, &nested_name, out)?;
        }
    }
    man.render_extra_section(out)?;
    man.render_version_section(out)?;
    Ok(())
}

fn render_subcommand(sub: &clap::Command, name: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(sub.clone().name(name.to_owned()));
    let mut section = Vec::new();
    man.render_synopsis_section(&mut section)?;
    man.render_description_section(&mut section)?;
    man.render_options_section(&mut section)?;
    for line in section.split_inclusive(|&b| b == b'\n') {
        match line.strip_prefix(b".SH ") {
            Some(title) => {
                out.extend_from_slice(b".SS ");
                out.extend_from_slice(title);
            }
            None => out.extend_from_slice(line),
        }
    }
    Ok(())
}

/// A subscription list is small; anything larger than this is not one.
const MAX_OPML_BYTES: u64 = 16 << 20;

/// `feeds import FILE`: the OPML file's feeds as `[[feeds]]` entries, printed or (`--write`)
/// appended to the config at `config_path`. Nothing is written unless every new feed is valid
/// and the resulting config passes `check`.
pub fn feeds_import(config_path: &Path, args: &ImportArgs) -> i32 {
    let file = args.file.display();
    let text = match read_limited(&args.file, MAX_OPML_BYTES) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {file}: {e}");
            return exit::FAILURE;
        }
    };
    let outlines = match crate::opml::parse(&text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{file}:{}:{}: {}", e.line, e.column, Untrusted(&e.message));
            return exit::FAILURE;
        }
    };
    let existing = if args.write || config_path.exists() {
        match load_config(config_path) {
            Ok(c) => Some(c),
            Err(code) => return code,
        }
    } else {
        None
    };
    let mut names: std::collections::HashSet<String> = existing
        .iter()
        .flat_map(|c| c.feeds.iter().map(|f| f.name.clone()))
        .collect();
    let mut urls: std::collections::HashSet<String> = existing
        .iter()
        .flat_map(|c| c.feeds.iter().map(|f| f.source.to_string()))
        .collect();
    let (mut tables, mut errors, mut skipped) = (Vec::new(), 0usize, 0usize);
    for o in &outlines {
        let url = match url::Url::parse(&o.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
            _ => {
                eprintln!(
                    "{file}:{}:{}: xmlUrl \"{}\" is not an http(s) URL",
                    o.line,
                    o.column,
                    Untrusted(&o.url)
                );
                errors += 1;
                continue;
            }
        };
        if !urls.insert(url.to_string()) {
            skipped += 1;
            continue;
        }
        let base = o
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
            .map_or_else(
                || {
                    format!(
                        "{}{}",
                        url.host_str().unwrap_or("feed"),
                        url.path().trim_end_matches('/')
                    )
                },
                str::to_owned,
            );
        let mut name = base.clone();
        for n in 2.. {
            if names.insert(name.clone()) {
                break;
            }
            name = format!("{base} ({n})");
        }
        let mut t = toml_edit::Table::new();
        t.insert("name", toml_edit::value(name));
        t.insert("url", toml_edit::value(url.as_str()));
        if !o.tags.is_empty() {
            let tags: toml_edit::Array = o.tags.iter().map(String::as_str).collect();
            t.insert("tags", toml_edit::value(tags));
        }
        tables.push(t);
    }
    if errors > 0 {
        eprintln!("error: {errors} outline(s) of {file} cannot be feeds; nothing imported");
        return exit::FAILURE;
    }
    if skipped > 0 {
        eprintln!("{skipped} feed(s) of {file} already configured: skipped");
    }
    let mut snippet = toml_edit::DocumentMut::new();
    let mut list = toml_edit::ArrayOfTables::new();
    for t in &tables {
        list.push(t.clone());
    }
    snippet.insert("feeds", toml_edit::Item::ArrayOfTables(list));
    if !args.write {
        print!("{snippet}");
        return exit::OK;
    }
    match append_feeds(config_path, tables) {
        Ok(n) => {
            eprintln!("added {n} feed(s) to {}", config_path.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}; {} left unchanged", config_path.display());
            exit::FAILURE
        }
    }
}

fn read_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(text)
}

/// Appends `[[feeds]]` tables to the config file, keeping its comments and layout
/// (toml_edit), checks the result like `check`, and replaces the file atomically.
fn append_feeds(path: &Path, tables: Vec<toml_edit::Table>) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the config: {e}"))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("cannot edit the config: {e}"))?;
    let n = tables.len();
    let feeds = doc
        .entry("feeds")
        .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or("the config's `feeds` is not a list of [[feeds]] tables")?;
    for t in tables {
        feeds.push(t);
    }
    let new_text = doc.to_string();
    if let Err(e) = config::load_str(&new_text, path) {
        return Err(format!("the config would not be valid:\n{e}"));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile_in(dir).map_err(|e| format!("cannot write beside the config: {e}"))?;
    let result = (|| {
        std::fs::write(&tmp, &new_text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write the config: {e}"));
    }
    Ok(n)
}

/// A fresh file name beside the config for the atomic replace.
fn tempfile_in(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    for i in 0..100u32 {
        let p = dir.join(format!(".newshound-config.{}.{i}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary name"))
}

/// `feeds export`: the configured feeds as OPML 2.0 on stdout.
pub fn feeds_export(cfg: &Config) -> i32 {
    let urls: Vec<String> = cfg.feeds.iter().map(|f| f.source.to_string()).collect();
    let feeds: Vec<crate::opml::ExportFeed<'_>> = cfg
        .feeds
        .iter()
        .zip(&urls)
        .map(|(f, url)| crate::opml::ExportFeed {
            name: &f.name,
            url,
            tags: &f.tags,
        })
        .collect();
    let doc = crate::opml::write("newshound feeds", &feeds);
    match std::io::stdout().lock().write_all(doc.as_bytes()) {
        Ok(()) => exit::OK,
        Err(_) => exit::FAILURE,
    }
}

pub fn check(path: &Path) -> i32 {
    match load_config(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!("{w}");
            }
            println!(
                "ok: {} feeds, {} topics ({})",
                cfg.feeds.len(),
                cfg.topics.len(),
                path.display()
            );
            exit::OK
        }
        Err(code) => code,
    }
}

fn open_store(cfg: &Config) -> Result<Store, i32> {
    Store::open_with(&cfg.database, cfg.synchronous, cfg.keep.is_some()).map_err(|e| {
        eprintln!("error: {e}");
        exit::CANT_OPEN_DB
    })
}

/// Runs one read against the stored database; errors are printed, and become the exit code.
fn read<T>(cfg: &Config, query: impl FnOnce(&Store) -> store::Result<T>) -> Result<T, i32> {
    let store = open_read_only(cfg)?;
    query(&store).map_err(|e| {
        eprintln!("error: {e}");
        exit::FAILURE
    })
}

fn open_read_only(cfg: &Config) -> Result<Store, i32> {
    Store::open_read_only(&cfg.database).map_err(|e| {
        eprintln!("error: {e}");
        exit::CANT_OPEN_DB
    })
}

pub async fn once(cfg: Config, args: &OnceArgs) -> i32 {
    let store = match open_store(&cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (handle, writer) = store::spawn_writer(store, IngestPolicy::from(&cfg));
    let poller = match Poller::new(&cfg, handle) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            eprintln!("error: {e:#}");
            return exit::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let mut progress = crate::progress::FeedProgress::new(cfg.feeds.len());
    let reports = poll::poll_all_observed(poller.clone(), &cfg.feeds, |r| {
        progress.feed_done(r.failed())
    })
    .await;
    progress.finish();
    // The schedule the daemon would follow from here, so `feeds` shows each next poll.
    let schedules: Vec<store::Schedule> = reports
        .iter()
        .zip(&cfg.feeds)
        .filter(|(r, _)| !r.cancelled() && !r.hints.gone)
        .map(|(r, feed)| {
            let next = crate::daemon::schedule(feed, &cfg.defaults, r);
            store::Schedule {
                feed: feed.name.clone(),
                next: next.at,
                interval: next.interval,
                reason: next.reason,
            }
        })
        .collect();
    if let Err(e) = poller.store().set_schedules(schedules).await {
        tracing::warn!(error = %e, "could not save the feeds' next polls");
    }
    drop(poller);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    print_once_summary(&reports, started.elapsed(), args.json);
    if reports.iter().any(FeedReport::failed) {
        exit::SOME_FEEDS_FAILED
    } else {
        exit::OK
    }
}

fn print_once_summary(reports: &[FeedReport], elapsed: std::time::Duration, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        for r in reports {
            let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
        }
        return;
    }
    let width = reports
        .iter()
        .map(|r| r.feed.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let (mut new, mut failed, mut alerts) = (0, 0, 0);
    for r in reports {
        let name = Untrusted(&r.feed).to_string();
        let line = match &r.result {
            PollResult::Fetched {
                new: n,
                updated,
                unchanged,
                merged,
                alerts: a,
            } => {
                new += n;
                alerts += a;
                format!(
                    "{n} new, {updated} updated, {unchanged} unchanged, {merged} merged, {}",
                    plural(*a, "alert", "alerts")
                )
            }
            PollResult::NotModified => "unchanged (not modified)".to_owned(),
            PollResult::Failed { class, error, .. } => {
                failed += 1;
                format!("FAILED {class}: {}", Untrusted(error))
            }
        };
        // A poll's time includes its wait for the host (per-host limit, spacing) and for a
        // fetch slot: say how much, so a slow-looking feed is not blamed for its queue.
        let queued = (r.hints.host_wait + r.hints.slot_wait).as_millis();
        if queued > 0 {
            let _ = writeln!(
                out,
                "{name:<width$}  {line}  ({} ms, {queued} ms of it queued)",
                r.elapsed_ms
            );
        } else {
            let _ = writeln!(out, "{name:<width$}  {line}  ({} ms)", r.elapsed_ms);
        }
    }
    let _ = writeln!(
        out,
        "{} in {:.2}s: {}, {}, {failed} failed",
        plural(reports.len(), "feed", "feeds"),
        elapsed.as_secs_f64(),
        plural(new, "new item", "new items"),
        plural(alerts, "alert", "alerts"),
    );
}

/// `1 alert`, `2 alerts`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn feeds(cfg: &Config, args: &ListArgs) -> i32 {
    let states = match read(cfg, |store| store.feed_states()) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let mut out = std::io::stdout().lock();
    for s in &states {
        let configured = cfg.feeds.iter().any(|f| f.name == s.name);
        if args.json {
            #[derive(Serialize)]
            struct Row<'a> {
                #[serde(flatten)]
                state: &'a store::FeedState,
                configured: bool,
            }
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string(&Row {
                    state: s,
                    configured
                })
                .unwrap_or_default()
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{}{}",
            Untrusted(&s.name),
            if configured {
                ""
            } else {
                "  (no longer in the config)"
            }
        );
        let _ = writeln!(out, "  url:            {}", Untrusted(&s.url));
        let _ = writeln!(
            out,
            "  last fetch:     {}  status {}",
            fmt_time(s.last_fetch_at),
            s.last_status.map_or("-".into(), |c| c.to_string())
        );
        let _ = writeln!(out, "  last success:   {}", fmt_time(s.last_success_at));
        let _ = writeln!(
            out,
            "  validators:     etag {}  last-modified {}",
            s.etag
                .as_deref()
                .map_or("-".into(), |e| Untrusted(e).to_string()),
            s.last_modified
                .as_deref()
                .map_or("-".into(), |e| Untrusted(e).to_string())
        );
        let _ = writeln!(out, "  items:          {}", s.items);
        if s.consecutive_failures > 0 {
            let _ = writeln!(
                out,
                "  failures:       {} in a row; last: {} {}",
                s.consecutive_failures,
                s.last_error_class.as_deref().unwrap_or("-"),
                Untrusted(s.last_error.as_deref().unwrap_or(""))
            );
        }
        if s.consecutive_failures == 0
            && s.last_error_class.as_deref() == Some("warning")
            && let Some(w) = &s.last_error
        {
            let _ = writeln!(out, "  warning:        {}", Untrusted(w));
        }
        if let Some(r) = &s.redirect_url {
            let _ = writeln!(
                out,
                "  moved to:       {} (permanent redirect seen {} time(s))",
                Untrusted(r),
                s.redirect_seen
            );
        }
        if let Some(r) = &s.adopted_url {
            let _ = writeln!(
                out,
                "  polling:        {} (adopted permanent redirect)",
                Untrusted(r)
            );
        }
        if let Some(since) = s.dead_since {
            let _ = writeln!(
                out,
                "  gone:           HTTP 410 since {}; the daemon no longer polls it",
                fmt_time(Some(since))
            );
        } else if let Some(next) = s.next_poll_at {
            let fmt = |secs: i64| {
                humantime::format_duration(std::time::Duration::from_secs(secs.max(0) as u64))
                    .to_string()
            };
            // The wait actually scheduled, which a ttl, max-age or backoff can make longer
            // than the base interval shown beside it.
            let wait = s
                .last_fetch_at
                .map(|at| format!("{} after the last fetch, ", fmt((next - at).num_seconds())))
                .unwrap_or_default();
            let interval = s.poll_interval_secs.map_or("-".into(), |i| fmt(i as i64));
            let _ = writeln!(
                out,
                "  next poll:      {}  ({wait}because: {}; base interval {interval})",
                fmt_time(Some(next)),
                s.schedule_reason.as_deref().unwrap_or("-")
            );
        }
    }
    if states.is_empty() && !args.json {
        let _ = writeln!(out, "no feed has been polled yet; run `newshound once`");
    }
    exit::OK
}

fn since(d: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
    d.and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() - d)
}

pub fn items(cfg: &Config, args: &ItemsArgs) -> i32 {
    let mut items = match read(cfg, |store| {
        store.items(
            args.feed.as_deref(),
            since(args.since),
            probe_limit(args.limit),
        )
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let cut = cut_to_limit(&mut items, args.limit);
    let mut out = std::io::stdout().lock();
    for i in &items {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(i).unwrap_or_default());
        } else {
            let date = fmt_time(i.published.or(Some(i.first_seen)));
            let story = i
                .story_id
                .map_or_else(|| "-".to_owned(), |s| format!("#{s}"));
            let _ = writeln!(
                out,
                "{date}  story {story}  [{}]  {}",
                Untrusted(&i.sources.join(", ")),
                Untrusted(&i.title)
            );
            if let Some(u) = &i.url {
                let _ = writeln!(out, "    {}", Untrusted(u));
            }
            if args.explain {
                let _ = writeln!(
                    out,
                    "    in story {story}: {}",
                    i.join_reason.as_deref().unwrap_or("-")
                );
            }
        }
    }
    report_cut(cut, "items");
    exit::OK
}

pub fn stories(cfg: &Config, args: &StoriesArgs) -> i32 {
    let mut stories = match read(cfg, |store| {
        store.stories(since(args.since), args.min_sources, probe_limit(args.limit))
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let cut = cut_to_limit(&mut stories, args.limit);
    let mut out = std::io::stdout().lock();
    for st in &stories {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(st).unwrap_or_default());
            continue;
        }
        let _ = writeln!(
            out,
            "#{}  {}  {} item(s) from {} source(s): {}",
            st.id,
            fmt_time(Some(st.started)),
            st.items.len(),
            st.sources.len(),
            Untrusted(&st.sources.join(", "))
        );
        let _ = writeln!(out, "    {}", Untrusted(&st.headline));
        if args.explain {
            for i in &st.items {
                let _ = writeln!(
                    out,
                    "      item {} [{}] {} — {}",
                    i.id,
                    Untrusted(&i.sources.join(", ")),
                    Untrusted(&i.title),
                    i.join_reason.as_deref().unwrap_or("-")
                );
            }
        }
    }
    report_cut(cut, "stories");
    exit::OK
}

pub fn alerts(cfg: &Config, args: &AlertsArgs) -> i32 {
    let mut alerts = match read(cfg, |store| {
        store.alerts(
            args.topic.as_deref(),
            since(args.since),
            probe_limit(args.limit),
        )
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let cut = cut_to_limit(&mut alerts, args.limit);
    let mut out = std::io::stdout().lock();
    for a in &alerts {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(a).unwrap_or_default());
        } else {
            let _ = writeln!(
                out,
                "{}  {}  [{}]  {}",
                fmt_time(Some(a.created)),
                Untrusted(&a.topic),
                Untrusted(&a.feed),
                Untrusted(&a.title)
            );
            let _ = writeln!(
                out,
                "    matched {} in {}: {}",
                Untrusted(&a.terms.join(", ")),
                a.field,
                Untrusted(&a.snippet)
            );
            if let Some(u) = &a.url {
                let _ = writeln!(out, "    {}", Untrusted(u));
            }
        }
    }
    report_cut(cut, "alerts");
    exit::OK
}

/// How many rows past `--limit` a listing reads to say how many it left out.
const MORE_PROBE: usize = 10_000;

fn probe_limit(limit: usize) -> usize {
    limit.saturating_add(MORE_PROBE)
}

/// What a listing cut at `--limit` left out: `None` when nothing, else the count and whether
/// there may be more than that.
fn cut_to_limit<T>(rows: &mut Vec<T>, limit: usize) -> Option<(usize, bool)> {
    let read = rows.len();
    if read <= limit {
        return None;
    }
    rows.truncate(limit);
    Some((read - limit, read == probe_limit(limit)))
}

/// Says on stderr (never inside --json output on stdout) that a listing was cut.
fn report_cut(cut: Option<(usize, bool)>, what: &str) {
    if let Some((n, at_least)) = cut {
        let n = if at_least {
            format!("{n} or more")
        } else {
            n.to_string()
        };
        eprintln!("{n} more {what} (use --limit)");
    }
}

/// The `parse --json` output shape (stable, documented in the README): a first line for the
/// feed, then one line per item.
#[derive(Serialize)]
struct ParsedFeedJson<'a> {
    kind: &'static str,
    title: Option<&'a str>,
    link: Option<&'a str>,
    format: &'a str,
    updated: Option<DateTime<Utc>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct ParsedItemJson<'a> {
    kind: &'static str,
    /// The entry's id as published; `null` when it has none.
    id: Option<&'a str>,
    /// newshound's dedup key for the item within its feed.
    key: String,
    title: &'a str,
    title_source: &'a str,
    url: Option<&'a str>,
    canonical_url: Option<&'a str>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    summary: &'a str,
    content: Option<&'a str>,
    authors: &'a [String],
    categories: &'a [String],
}

pub async fn parse(cfg: Option<&Config>, args: &ParseArgs) -> i32 {
    let defaults = cfg.map(|c| c.defaults.clone()).unwrap_or_default();
    let source = if args.source.starts_with("http://") || args.source.starts_with("https://") {
        match url::Url::parse(&args.source) {
            Ok(u) => FeedSource::Http(u),
            Err(e) => {
                eprintln!("error: invalid URL {}: {e}", args.source);
                return exit::FAILURE;
            }
        }
    } else {
        FeedSource::File(args.source.trim_start_matches("file://").into())
    };
    let parsed = match poll::fetch_and_parse(&defaults, &source).await {
        Ok(p) => p,
        Err(e) => {
            // A file error names its path already; an HTTP one may not name the URL.
            let message = format!("{e:#}");
            if message.contains(&source.to_string()) {
                eprintln!("error: {}", Untrusted(&message));
            } else {
                eprintln!("error: {source}: {}", Untrusted(&message));
            }
            return exit::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let head = ParsedFeedJson {
            kind: "feed",
            title: parsed.title.as_deref(),
            link: parsed.link.as_deref(),
            format: parsed.format,
            updated: parsed.updated,
            warnings: &parsed.warnings,
        };
        let _ = writeln!(out, "{}", serde_json::to_string(&head).unwrap_or_default());
    }
    for (n, i) in parsed.items.iter().enumerate() {
        let meta = parsed.entries.get(n);
        if args.json {
            let row = ParsedItemJson {
                kind: "entry",
                id: meta.and_then(|m| m.id.as_deref()),
                key: i.key.as_stored(),
                title: &i.title,
                title_source: meta.map_or("title", |m| m.title_source),
                url: i.url.as_deref(),
                canonical_url: i.canonical_url.as_deref(),
                published: i.published,
                updated: i.updated,
                summary: &i.summary,
                content: i.content.as_deref(),
                authors: &i.authors,
                categories: &i.categories,
            };
            let _ = writeln!(out, "{}", serde_json::to_string(&row).unwrap_or_default());
        } else {
            let _ = writeln!(out, "{}  {}", fmt_time(i.date()), Untrusted(&i.title));
            let _ = writeln!(out, "    id: {}", Untrusted(&i.key.as_stored()));
            if let Some(u) = &i.url {
                let _ = writeln!(out, "    url: {}", Untrusted(u));
            }
        }
    }
    if !args.json {
        for w in &parsed.warnings {
            let _ = writeln!(out, "warning: {}", Untrusted(w));
        }
        let _ = writeln!(
            out,
            "{} items ({}{})",
            parsed.items.len(),
            parsed.format,
            if parsed.ignored > 0 {
                format!(", {} ignored over the limit", parsed.ignored)
            } else {
                String::new()
            }
        );
    }
    exit::OK
}

pub fn topics_test(cfg: &Config, args: &TopicsTestArgs) -> i32 {
    let spec = match (&args.name, &args.query) {
        (Some(name), _) => match cfg.topics.iter().find(|t| &t.spec.name == name) {
            Some(t) => t.spec.clone(),
            None => {
                let names: Vec<_> = cfg.topics.iter().map(|t| t.spec.name.as_str()).collect();
                eprintln!(
                    "error: no topic named \"{name}\" in {}; topics: {}",
                    cfg.path.display(),
                    names.join(", ")
                );
                return exit::FAILURE;
            }
        },
        (None, Some(q)) => {
            if let Err(e) = crate::topics::parse_query(q) {
                let (line, caret) = e.snippet(q);
                eprintln!("error: query: {}\n   | {line}\n   | {caret}", e.message);
                return exit::CONFIG;
            }
            TopicSpec {
                name: "query".into(),
                queries: vec![q.clone()],
                feeds: None,
                stem: None,
                lexicons: Default::default(),
            }
        }
        (None, None) => return exit::FAILURE,
    };
    let matcher = match Matcher::new(std::slice::from_ref(&spec)) {
        Ok(m) => m,
        Err((_, e)) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    if let Some(labels) = &args.labels {
        return topics_backtest(cfg, &spec, &matcher, labels, args);
    }
    let items = match read(cfg, |store| {
        store.items(None, since(args.since), args.limit)
    }) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (open, close) = if color {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("[[", "]]")
    };
    let mut out = std::io::stdout().lock();
    let mut count = 0;
    for item in &items {
        // Any feed the item was seen in satisfies a topic's feed filter.
        let hit = item.sources.iter().find_map(|f| {
            matcher
                .match_item(f, &item.title, &item.summary)
                .into_iter()
                .next()
        });
        let Some(m) = hit else { continue };
        count += 1;
        if args.json {
            let c = poll::alert_candidate(&matcher, &item.title, &item.summary, m);
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"item_id": item.id, "title": item.title, "url": item.url, "published": item.published, "terms": c.terms, "field": c.field, "snippet": c.snippet, "query": c.query_index})
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{}  [{}]",
            fmt_time(item.published.or(Some(item.first_seen))),
            Untrusted(&item.sources.join(", "))
        );
        for (label, text) in [("title", &item.title), ("summary", &item.summary)] {
            let field = if label == "title" {
                crate::topics::Field::Title
            } else {
                crate::topics::Field::Summary
            };
            let mut ranges: Vec<_> = m
                .terms
                .iter()
                .filter(|t| t.field == field)
                .map(|t| t.range.clone())
                .collect();
            if ranges.is_empty() {
                if label == "title" {
                    let _ = writeln!(out, "    title:   {}", Untrusted(text));
                }
                continue;
            }
            ranges.sort_by_key(|r| r.start);
            let shown = if label == "title" {
                (text.to_string(), 0)
            } else {
                let (s, hl) = snippet(
                    text,
                    ranges[0].start..ranges.last().map_or(ranges[0].end, |r| r.end),
                    80,
                );
                let shift = hl.start as isize - ranges[0].start as isize;
                (s, shift)
            };
            let (body, shift) = shown;
            let mut marked = String::new();
            let mut pos = 0usize;
            for r in &ranges {
                let (s, e) = (
                    (r.start as isize + shift) as usize,
                    (r.end as isize + shift) as usize,
                );
                if s < pos
                    || e > body.len()
                    || !body.is_char_boundary(s)
                    || !body.is_char_boundary(e)
                {
                    continue;
                }
                marked.push_str(&Untrusted(&body[pos..s]).to_string());
                marked.push_str(open);
                marked.push_str(&Untrusted(&body[s..e]).to_string());
                marked.push_str(close);
                pos = e;
            }
            marked.push_str(&Untrusted(&body[pos..]).to_string());
            let _ = writeln!(out, "    {label:<8} {marked}");
        }
        if spec.queries.len() > 1 {
            let _ = writeln!(
                out,
                "    query #{}: {}",
                m.query + 1,
                Untrusted(
                    &spec.queries[m.query]
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            );
        }
    }
    if !args.json {
        let _ = writeln!(
            out,
            "{count} of {} stored items match {}",
            items.len(),
            Untrusted(&spec.name)
        );
    }
    exit::OK
}

/// Every stored item, newest first (backtests and `explain` look at all of them).
const ALL_ITEMS: usize = i64::MAX as usize;

/// The first of `item`'s feeds whose match of `matcher` fires, if any (a topic's feed filter is
/// satisfied by any feed the item was seen in).
fn first_match(matcher: &Matcher, item: &store::StoredItem) -> Option<crate::topics::TopicMatch> {
    item.sources.iter().find_map(|f| {
        matcher
            .match_item(f, &item.title, &item.summary)
            .into_iter()
            .next()
    })
}

/// `topics test NAME --labels FILE`: precision, recall and F1 of the topic on the labelled items
/// that are stored, and every false positive (with what fired) and false negative (with what
/// was missing).
fn topics_backtest(
    cfg: &Config,
    spec: &TopicSpec,
    matcher: &Matcher,
    labels_path: &Path,
    args: &TopicsTestArgs,
) -> i32 {
    use crate::topics::backtest::{LabelKey, Labels, normalize_link, parse_id_links, prf};
    let read_text = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| {
            eprintln!("error: cannot read {}: {e}", p.display());
            exit::FAILURE
        })
    };
    let id_links = match &args.items {
        None => Default::default(),
        Some(p) => match read_text(p).map(|t| parse_id_links(&t)) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                eprintln!("error: {}: {e}", p.display());
                return exit::FAILURE;
            }
            Err(code) => return code,
        },
    };
    let labels = match read_text(labels_path).map(|t| Labels::parse(&t, &spec.name, &id_links)) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            eprintln!("error: {}: {e}", labels_path.display());
            return exit::FAILURE;
        }
        Err(code) => return code,
    };
    let items = match read(cfg, |store| store.items(None, since(args.since), ALL_ITEMS)) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let mut by_link: std::collections::HashMap<String, &store::StoredItem> = Default::default();
    let mut by_id: std::collections::HashMap<String, &store::StoredItem> = Default::default();
    for item in &items {
        by_id.insert(item.id.to_string(), item);
        for u in [&item.url, &item.canonical_url].into_iter().flatten() {
            by_link.entry(normalize_link(u)).or_insert(item);
        }
    }
    let (mut tp, mut fps, mut fns, mut missing) = (0, Vec::new(), Vec::new(), 0);
    for (key, label) in &labels.labels {
        let item = match key {
            LabelKey::Link(l) => by_link.get(l),
            LabelKey::Id(i) => by_id.get(i),
        };
        let Some(item) = item else {
            missing += 1;
            continue;
        };
        match (first_match(matcher, item), label) {
            (Some(_), true) => tp += 1,
            (Some(m), false) => fps.push((*item, m)),
            (None, true) => fns.push(*item),
            (None, false) => {}
        }
    }
    let (p, r, f1) = prf(tp, fps.len(), fns.len());
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"topic": spec.name, "precision": p, "recall": r, "f1": f1,
                "tp": tp, "fp": fps.len(), "fn": fns.len(), "not_stored": missing,
                "false_positives": fps.iter().map(|(i, _)| &i.url).collect::<Vec<_>>(),
                "false_negatives": fns.iter().map(|i| &i.url).collect::<Vec<_>>()})
        );
        return exit::OK;
    }
    for (item, m) in &fps {
        let c = poll::alert_candidate(matcher, &item.title, &item.summary, m.clone());
        let _ = writeln!(out, "FALSE POSITIVE  {}", Untrusted(&item.title));
        if let Some(u) = &item.url {
            let _ = writeln!(out, "    {}", Untrusted(u));
        }
        let fired: Vec<String> = m
            .terms
            .iter()
            .zip(&c.terms)
            .map(|(t, text)| format!("{} = \"{}\" ({})", t.term, text, t.field.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "    query #{} fired on: {}",
            m.query + 1,
            Untrusted(&fired.join(", "))
        );
    }
    for item in &fns {
        let e = matcher.explain(0, &item.title, &item.summary);
        let _ = writeln!(out, "FALSE NEGATIVE  {}", Untrusted(&item.title));
        if let Some(u) = &item.url {
            let _ = writeln!(out, "    {}", Untrusted(u));
        }
        for (qi, clauses) in e.missing.iter().enumerate() {
            let _ = writeln!(
                out,
                "    query #{} missing: {}",
                qi + 1,
                Untrusted(&clauses.join("; "))
            );
        }
    }
    let _ = writeln!(
        out,
        "{}: precision {p:.3}  recall {r:.3}  F1 {f1:.3}  ({tp} found, {} false, {} missed; {} labelled items not stored, {} labels left out)",
        Untrusted(&spec.name),
        fps.len(),
        fns.len(),
        missing,
        labels.skipped
    );
    exit::OK
}

/// `topics explain NAME ITEM`: the evaluation tree of the topic's queries on one stored item.
pub fn topics_explain(cfg: &Config, args: &TopicsExplainArgs) -> i32 {
    let Some(topic) = cfg.topics.iter().find(|t| t.spec.name == args.name) else {
        let names: Vec<_> = cfg.topics.iter().map(|t| t.spec.name.as_str()).collect();
        eprintln!(
            "error: no topic named \"{}\" in {}; topics: {}",
            Untrusted(&args.name),
            cfg.path.display(),
            names.join(", ")
        );
        return exit::FAILURE;
    };
    let matcher = match Matcher::new(std::slice::from_ref(&topic.spec)) {
        Ok(m) => m,
        Err((_, e)) => {
            eprintln!("error: {e}");
            return exit::CONFIG;
        }
    };
    let items = match read(cfg, |store| store.items(None, None, ALL_ITEMS)) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let wanted = crate::topics::backtest::normalize_link(&args.item);
    let Some(item) = items.iter().find(|i| {
        i.id.to_string() == args.item
            || [&i.url, &i.canonical_url]
                .into_iter()
                .flatten()
                .any(|u| crate::topics::backtest::normalize_link(u) == wanted)
    }) else {
        eprintln!(
            "error: no stored item with id or URL {}",
            Untrusted(&args.item)
        );
        return exit::FAILURE;
    };
    let e = matcher.explain(0, &item.title, &item.summary);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "item {}: {}", item.id, Untrusted(&item.title));
    for line in &e.tree {
        let _ = writeln!(out, "  {}", Untrusted(line));
    }
    let verdict = match e.query {
        Some(q) => format!("matches {} (query #{})", topic.spec.name, q + 1),
        None => format!("does not match {}", topic.spec.name),
    };
    let _ = writeln!(out, "{}", Untrusted(&verdict));
    exit::OK
}

/// `search QUERY`: stored items matching the query, best first.
pub fn search(cfg: &Config, args: &crate::cli::SearchArgs) -> i32 {
    let query = args.query.join(" ");
    if !cfg.search {
        eprintln!(
            "error: search is off in {}: add search = true under [storage]; the index is built at the next `once` or start",
            cfg.path.display()
        );
        return exit::CONFIG;
    }
    let store = match open_read_only(cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let hits = match crate::search::search(&store, &query, since(args.since), args.limit) {
        Ok(h) => h,
        Err(crate::search::SearchError::Query(e)) => {
            eprintln!(
                "error: search query: {}\n   | {}\n   | {}",
                e.message,
                Untrusted(&query),
                e.caret()
            );
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    for h in &hits {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(h).unwrap_or_default());
            continue;
        }
        let _ = writeln!(
            out,
            "{}  [{}]  {}",
            fmt_time(h.published.or(Some(h.first_seen))),
            Untrusted(&h.feed),
            Untrusted(&h.title)
        );
        if !h.snippet.is_empty() {
            let _ = writeln!(out, "    {}", Untrusted(&h.snippet));
        }
        if let Some(u) = &h.url {
            let _ = writeln!(out, "    {}", Untrusted(u));
        }
    }
    if hits.is_empty() && !args.json {
        eprintln!("no stored item matches {}", Untrusted(&query));
    }
    exit::OK
}

/// `prune [--dry-run]`: deletes (or counts) what `[storage] keep` no longer keeps.
pub fn prune(cfg: &Config, args: &crate::cli::PruneArgs) -> i32 {
    let Some(keep) = cfg.keep else {
        eprintln!(
            "error: {} sets no [storage] keep, so nothing is ever deleted; add e.g. keep = \"180d\" under [storage]",
            cfg.path.display()
        );
        return exit::CONFIG;
    };
    let store = if args.dry_run {
        open_read_only(cfg)
    } else {
        open_store(cfg)
    };
    let mut store = match store {
        Ok(s) => s,
        Err(code) => return code,
    };
    let window = cfg.story_window.as_secs() as i64;
    let before = store.page_counts();
    match store.has_search_index() {
        Ok(true) => {}
        Ok(false) => {
            eprintln!(
                "error: the database predates retention; run `newshound once` (or restart the daemon) to upgrade it first"
            );
            return exit::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILURE;
        }
    }
    let (plan, report) = match store.prune(keep, window, Utc::now(), args.dry_run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILURE;
        }
    };
    let after = store.page_counts();
    let shrinks = store.incremental_vacuum_enabled().unwrap_or(false);
    let freed = match (before, after) {
        (Ok((b, _, size)), Ok((a, _, _))) => (b - a).max(0) * size,
        _ => 0,
    };
    let cutoff = fmt_time(DateTime::from_timestamp(plan.cutoff, 0));
    if args.json {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({"dry_run": args.dry_run, "cutoff": cutoff, "stories": report.stories,
                "items": report.items, "sightings": report.sightings, "features": report.features,
                "alerts": report.alerts, "bytes_freed": freed})
        );
        return exit::OK;
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    println!(
        "{verb} {}: {}, {}, {} story features, {} (stored before {cutoff} and not listed by a feed since)",
        plural(report.stories as usize, "story", "stories"),
        plural(report.items as usize, "item", "items"),
        plural(report.sightings as usize, "sighting", "sightings"),
        report.features,
        plural(report.alerts as usize, "alert", "alerts"),
    );
    if !args.dry_run {
        if shrinks {
            println!(
                "the database file shrank by {}",
                bytesize::ByteSize::b(freed as u64)
            );
        } else if report.items > 0 {
            println!(
                "the database predates incremental vacuum: its freed pages are reused, but the file does not shrink \
                 (with the daemon stopped, `sqlite3 {} 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM'` converts it)",
                cfg.database.display()
            );
        }
    }
    exit::OK
}
