//! What each subcommand does. Each returns how it ended ([`Exit`]) or an [`Error`]; `main`
//! prints the error and exits with its status.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{
    AlertsArgs, ImportArgs, ItemsArgs, ListArgs, OnceArgs, OutboxArgs, OutboxCommand, ParseArgs,
    SinksArgs, SinksCommand, StoriesArgs, TopicsExplainArgs, TopicsTestArgs,
};
use crate::config::{self, Config, ConfigError, FeedSource};
use crate::error_class::ErrorClass;
use crate::exit::{Error, Exit, Result};
use crate::poll::{self, FeedReport, PollResult, Poller};
use crate::store::{self, IngestPolicy, Store};
use crate::text::Untrusted;
use crate::topics::{Matcher, TopicSpec, snippet};

/// Loads the config; its errors are [`Exit::Config`].
pub fn load_config(path: &Path) -> Result<Config> {
    config::load(path).map_err(|e| match &e {
        ConfigError::Read { .. } => Error::new(Exit::Config, e),
        ConfigError::Invalid(_) => Error::diagnostics(Exit::Config, e.to_string()),
    })
}

/// Writes all of `bytes` to stdout (a closed pipe is a failure, reported by the exit status).
fn write_stdout(bytes: &[u8]) -> Result {
    std::io::stdout()
        .lock()
        .write_all(bytes)
        .map(|()| Exit::Ok)
        .map_err(|e| Error::failure(format!("cannot write to stdout: {e}")))
}

/// Prints a completion script for `shell`, generated from the command-line definition.
pub fn completions(shell: clap_complete::Shell) -> Result {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "newshound", &mut script);
    write_stdout(&script)
}

/// Prints the man page, generated from the command-line definition, with every subcommand.
pub fn manpage() -> Result {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    render_manpage(&cmd, &mut page)
        .map_err(|e| Error::failure(format!("cannot render the man page: {e}")))?;
    write_stdout(&page)
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
pub fn feeds_import(config_path: &Path, args: &ImportArgs) -> Result {
    let file = args.file.display();
    let text = read_limited(&args.file, MAX_OPML_BYTES)
        .map_err(|e| Error::failure(format!("cannot read {file}: {e}")))?;
    let outlines = crate::opml::parse(&text).map_err(|e| {
        Error::diagnostics(
            Exit::Failure,
            format!("{file}:{}:{}: {}", e.line, e.column, Untrusted(&e.message)),
        )
    })?;
    let existing = if args.write || config_path.exists() {
        Some(load_config(config_path)?)
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
        return Err(Error::failure(format!(
            "{errors} outline(s) of {file} cannot be feeds; nothing imported"
        )));
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
        return write_stdout(snippet.to_string().as_bytes());
    }
    let n = append_feeds(config_path, tables)
        .map_err(|e| Error::failure(format!("{e}; {} left unchanged", config_path.display())))?;
    eprintln!("added {n} feed(s) to {}", config_path.display());
    Ok(Exit::Ok)
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
fn append_feeds(path: &Path, tables: Vec<toml_edit::Table>) -> std::result::Result<usize, String> {
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
pub fn feeds_export(cfg: &Config) -> Result {
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
    write_stdout(doc.as_bytes())
}

pub fn check(path: &Path) -> Result {
    let cfg = load_config(path)?;
    for w in &cfg.warnings {
        eprintln!("{w}");
    }
    println!(
        "ok: {} feeds, {} topics ({})",
        cfg.feeds.len(),
        cfg.topics.len(),
        path.display()
    );
    Ok(Exit::Ok)
}

/// Opens (creating or migrating) the SQLite database; failing is [`Exit::CantOpenDb`]. The
/// commands that only SQLite supports yet (the outbox's) refuse a PostgreSQL config here.
pub fn open_store(cfg: &Config) -> Result<Store> {
    sqlite_only(cfg)?;
    Store::open_with(&cfg.database, cfg.synchronous, cfg.keep.is_some())
        .map_err(|e| Error::new(Exit::CantOpenDb, e))
}

/// Opens (creating or migrating) the configured store, SQLite or PostgreSQL, for `once` and
/// the daemon. A daemon on PostgreSQL joins the others sharing its work (`[storage] url`).
pub fn open_backend(cfg: &Config, daemon: bool) -> Result<store::Backend> {
    let Some(pg) = &cfg.postgres else {
        return open_store(cfg).map(store::Backend::from);
    };
    let mut p = store::PgStore::open(&pg.url).map_err(|e| Error::new(Exit::CantOpenDb, e))?;
    if daemon {
        p.join(&pg.url, store::Instance::new(pg.lease))
            .map_err(|e| Error::new(Exit::CantOpenDb, e))?;
    }
    Ok(p.into())
}

fn sqlite_only(cfg: &Config) -> Result<()> {
    match cfg.postgres {
        Some(_) => Err(Error::new(
            Exit::CantOpenDb,
            store::StoreError::Unsupported("this command"),
        )),
        None => Ok(()),
    }
}

/// Runs one read against the stored database, SQLite or PostgreSQL (on a thread of its own:
/// PostgreSQL's synchronous client must not run on a thread driving `main`'s runtime).
fn read<T: Send>(
    cfg: &Config,
    query: impl FnOnce(&mut store::Backend) -> store::Result<T> + Send,
) -> Result<T> {
    let mut store = open_backend_read_only(cfg)?;
    on_backend(&mut store, query).map_err(Error::failure)
}

/// Opens the configured store, SQLite or PostgreSQL, without creating or migrating it.
fn open_backend_read_only(cfg: &Config) -> Result<store::Backend> {
    Ok(match &cfg.postgres {
        None => store::Backend::from(open_read_only(cfg)?),
        Some(pg) => store::PgStore::open_read_only(&pg.url)
            .map_err(|e| Error::new(Exit::CantOpenDb, e))?
            .into(),
    })
}

/// Runs `f` on the store: directly on SQLite, on a thread of its own on PostgreSQL (see [`read`]).
fn on_backend<T: Send>(
    store: &mut store::Backend,
    f: impl FnOnce(&mut store::Backend) -> T + Send,
) -> T {
    match store {
        store::Backend::Sqlite(_) => f(store),
        store::Backend::Postgres(_) => store::pg::off_runtime(|| f(store)),
    }
}

/// [`read`] for what only SQLite supports yet.
fn read_sqlite<T>(cfg: &Config, query: impl FnOnce(&Store) -> store::Result<T>) -> Result<T> {
    let store = open_read_only(cfg)?;
    query(&store).map_err(Error::failure)
}

fn open_read_only(cfg: &Config) -> Result<Store> {
    sqlite_only(cfg)?;
    Store::open_read_only(&cfg.database).map_err(|e| Error::new(Exit::CantOpenDb, e))
}

/// `instances`: the daemons sharing a PostgreSQL database's work.
pub fn instances(cfg: &Config, json: bool) -> Result {
    let Some(pg) = &cfg.postgres else {
        return Err(Error::failure(
            "instances: only a PostgreSQL store ([storage] url) is shared by several daemons",
        ));
    };
    let rows = store::pg::off_runtime(|| {
        store::PgStore::open_read_only(&pg.url).and_then(|mut p| p.instances())
    })
    .map_err(|e| Error::new(Exit::CantOpenDb, e))?;
    let mut out = std::io::stdout().lock();
    for r in &rows {
        if json {
            let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
            continue;
        }
        let _ = writeln!(
            out,
            "{}  {}  pid {}  {}  heartbeat {:.1}s ago  {} leases  started {}",
            Untrusted(&r.id),
            Untrusted(&r.host),
            r.pid,
            if r.live { "live" } else { "stale" },
            r.heartbeat_age_ms as f64 / 1000.0,
            r.leases,
            fmt_time(r.started)
        );
    }
    if rows.is_empty() && !json {
        println!("no daemon has joined this database");
    }
    Ok(Exit::Ok)
}

pub async fn once(cfg: Config, args: &OnceArgs) -> Result {
    let store = open_backend(&cfg, false)?;
    let (handle, writer) = store::spawn_writer(store, IngestPolicy::from(&cfg));
    // Without sinks the outbox is skipped altogether (nothing to enqueue, nothing to send).
    if !cfg.sinks.is_empty() {
        handle
            .set_outbox_routes(store::OutboxRoutes::new(&cfg.sinks))
            .await;
    }
    let poller = Arc::new(Poller::new(&cfg, handle).map_err(|e| Error::failure(format!("{e:#}")))?);
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
    // Deliveries due now get one attempt each; those that fail wait for the next run.
    if !cfg.sinks.is_empty() {
        let store = poller.store().clone();
        if let Err(e) = crate::sinks::Outbox::drain(&cfg, store, cfg.defaults.shutdown_grace).await
        {
            eprintln!("error: {e:#}");
        }
    }
    drop(poller);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    print_once_summary(&reports, started.elapsed(), args.json);
    Ok(if reports.iter().any(FeedReport::failed) {
        Exit::SomeFeedsFailed
    } else {
        Exit::Ok
    })
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

pub fn feeds(cfg: &Config, args: &ListArgs) -> Result {
    let states = read(cfg, |store| store.feed_states())?;
    let mut out = std::io::stdout().lock();
    let names: std::collections::HashSet<&str> =
        cfg.feeds.iter().map(|f| f.name.as_str()).collect();
    for row in feed_rows(&names, &states) {
        let (s, configured) = (row.state, row.configured);
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(&row).unwrap_or_default());
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
                s.last_error_class.map_or("-", ErrorClass::as_str),
                Untrusted(s.last_error.as_deref().unwrap_or(""))
            );
        }
        if s.consecutive_failures == 0
            && s.last_error_class == Some(ErrorClass::Warning)
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
    Ok(Exit::Ok)
}

/// One feed as `feeds --json` and `/api/feeds` show it: its stored state, and whether the
/// running config still has it.
#[derive(Serialize)]
pub struct FeedRow<'a> {
    #[serde(flatten)]
    pub state: &'a store::FeedState,
    pub configured: bool,
}

/// The rows of `feeds --json` for `states`, given the configured feeds' names.
pub fn feed_rows<'a>(
    configured: &std::collections::HashSet<&str>,
    states: &'a [store::FeedState],
) -> Vec<FeedRow<'a>> {
    states
        .iter()
        .map(|state| FeedRow {
            state,
            configured: configured.contains(state.name.as_str()),
        })
        .collect()
}

/// The time `d` ago (`--since`).
pub fn since(d: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
    d.and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() - d)
}

pub fn items(cfg: &Config, args: &ItemsArgs) -> Result {
    let mut items = read(cfg, |store| {
        store.items(
            args.feed.as_deref(),
            since(args.since),
            probe_limit(args.limit),
        )
    })?;
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
    Ok(Exit::Ok)
}

pub fn stories(cfg: &Config, args: &StoriesArgs) -> Result {
    let mut stories = read(cfg, |store| {
        store.stories(since(args.since), args.min_sources, probe_limit(args.limit))
    })?;
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
    Ok(Exit::Ok)
}

pub fn alerts(cfg: &Config, args: &AlertsArgs) -> Result {
    let mut alerts = read(cfg, |store| {
        store.alerts(
            args.topic.as_deref(),
            since(args.since),
            probe_limit(args.limit),
        )
    })?;
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
    Ok(Exit::Ok)
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

pub async fn parse(cfg: Option<&Config>, args: &ParseArgs) -> Result {
    let defaults = cfg.map(|c| c.defaults.clone()).unwrap_or_default();
    let source = if args.source.starts_with("http://") || args.source.starts_with("https://") {
        let url = url::Url::parse(&args.source)
            .map_err(|e| Error::failure(format!("invalid URL {}: {e}", Untrusted(&args.source))))?;
        FeedSource::Http(url)
    } else {
        FeedSource::File(args.source.trim_start_matches("file://").into())
    };
    let parsed = poll::fetch_and_parse(&defaults, &source)
        .await
        .map_err(|e| {
            // A file error names its path already; an HTTP one may not name the URL.
            let message = format!("{e:#}");
            if message.contains(&source.to_string()) {
                Error::failure(Untrusted(&message))
            } else {
                Error::failure(format!("{source}: {}", Untrusted(&message)))
            }
        })?;
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
    Ok(Exit::Ok)
}

pub fn topics_test(cfg: &Config, args: &TopicsTestArgs) -> Result {
    let spec = match (&args.name, &args.query) {
        (Some(name), _) => match cfg.topics.iter().find(|t| &t.spec.name == name) {
            Some(t) => t.spec.clone(),
            None => {
                let names: Vec<_> = cfg.topics.iter().map(|t| t.spec.name.as_str()).collect();
                return Err(Error::failure(format!(
                    "no topic named \"{}\" in {}; topics: {}",
                    Untrusted(name),
                    cfg.path.display(),
                    names.join(", ")
                )));
            }
        },
        (None, Some(q)) => {
            if let Err(e) = crate::topics::parse_query(q) {
                let (line, caret) = e.snippet(q);
                return Err(Error::new(
                    Exit::Config,
                    format!("query: {}\n   | {line}\n   | {caret}", e.message),
                ));
            }
            TopicSpec {
                name: "query".into(),
                queries: vec![q.clone()],
                feeds: None,
                stem: None,
                lexicons: Default::default(),
            }
        }
        (None, None) => {
            return Err(Error::failure("name a configured topic or give --query"));
        }
    };
    let matcher =
        Matcher::new(std::slice::from_ref(&spec)).map_err(|(_, e)| Error::new(Exit::Config, e))?;
    if let Some(labels) = &args.labels {
        return topics_backtest(cfg, &spec, &matcher, labels, args);
    }
    let items = read(cfg, |store| {
        store.items(None, since(args.since), args.limit)
    })?;
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
    Ok(Exit::Ok)
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
) -> Result {
    use crate::topics::backtest::{LabelKey, Labels, normalize_link, parse_id_links, prf};
    let read_text = |p: &Path| {
        std::fs::read_to_string(p)
            .map_err(|e| Error::failure(format!("cannot read {}: {e}", p.display())))
    };
    let in_file = |p: &Path, e: String| Error::failure(format!("{}: {e}", p.display()));
    let id_links = match &args.items {
        None => Default::default(),
        Some(p) => parse_id_links(&read_text(p)?).map_err(|e| in_file(p, e))?,
    };
    let labels = Labels::parse(&read_text(labels_path)?, &spec.name, &id_links)
        .map_err(|e| in_file(labels_path, e))?;
    let items = read(cfg, |store| store.items(None, since(args.since), ALL_ITEMS))?;
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
        return Ok(Exit::Ok);
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
    Ok(Exit::Ok)
}

/// `topics explain NAME ITEM`: the evaluation tree of the topic's queries on one stored item.
pub fn topics_explain(cfg: &Config, args: &TopicsExplainArgs) -> Result {
    let Some(topic) = cfg.topics.iter().find(|t| t.spec.name == args.name) else {
        let names: Vec<_> = cfg.topics.iter().map(|t| t.spec.name.as_str()).collect();
        return Err(Error::failure(format!(
            "no topic named \"{}\" in {}; topics: {}",
            Untrusted(&args.name),
            cfg.path.display(),
            names.join(", ")
        )));
    };
    let matcher = Matcher::new(std::slice::from_ref(&topic.spec))
        .map_err(|(_, e)| Error::new(Exit::Config, e))?;
    let items = read(cfg, |store| store.items(None, None, ALL_ITEMS))?;
    let wanted = crate::topics::backtest::normalize_link(&args.item);
    let Some(item) = items.iter().find(|i| {
        i.id.to_string() == args.item
            || [&i.url, &i.canonical_url]
                .into_iter()
                .flatten()
                .any(|u| crate::topics::backtest::normalize_link(u) == wanted)
    }) else {
        return Err(Error::failure(format!(
            "no stored item with id or URL {}",
            Untrusted(&args.item)
        )));
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
    Ok(Exit::Ok)
}

/// `search QUERY`: stored items matching the query, best first.
pub fn search(cfg: &Config, args: &crate::cli::SearchArgs) -> Result {
    let query = args.query.join(" ");
    if !cfg.search {
        return Err(Error::new(
            Exit::Config,
            format!(
                "search is off in {}: add search = true under [storage]; the index is built at the next `once` or start",
                cfg.path.display()
            ),
        ));
    }
    let mut store = open_backend_read_only(cfg)?;
    let hits = on_backend(&mut store, |s| {
        crate::search::search_backend(s, &query, since(args.since), args.limit)
    })
    .map_err(|e| match e {
        crate::search::SearchError::Query(e) => Error::new(
            Exit::Usage,
            format!(
                "search query: {}\n   | {}\n   | {}",
                e.message,
                Untrusted(&query),
                e.caret()
            ),
        ),
        e => Error::failure(e),
    })?;
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
    Ok(Exit::Ok)
}

/// `prune [--dry-run]`: deletes (or counts) what `[storage] keep` no longer keeps.
pub fn prune(cfg: &Config, args: &crate::cli::PruneArgs) -> Result {
    let Some(keep) = cfg.keep else {
        return Err(Error::new(
            Exit::Config,
            format!(
                "{} sets no [storage] keep, so nothing is ever deleted; add e.g. keep = \"180d\" under [storage]",
                cfg.path.display()
            ),
        ));
    };
    let window = cfg.story_window.as_secs() as i64;
    if let Some(pg) = &cfg.postgres {
        let opened = if args.dry_run {
            store::PgStore::open_read_only(&pg.url)
        } else {
            store::PgStore::open(&pg.url)
        };
        let mut store = opened.map_err(|e| Error::new(Exit::CantOpenDb, e))?;
        let (plan, report) =
            store::pg::off_runtime(|| store.prune(keep, window, Utc::now(), args.dry_run))
                .map_err(Error::failure)?;
        print_pruned(args, &plan, &report, 0);
        if !args.dry_run && !args.json && report.items > 0 {
            println!(
                "PostgreSQL's autovacuum makes the freed space reusable (VACUUM FULL would give it back to the file system)"
            );
        }
        return Ok(Exit::Ok);
    }
    let mut store = if args.dry_run {
        open_read_only(cfg)?
    } else {
        open_store(cfg)?
    };
    let before = store.page_counts();
    if !store.has_search_index().map_err(Error::failure)? {
        return Err(Error::failure(
            "the database predates retention; run `newshound once` (or restart the daemon) to upgrade it first",
        ));
    }
    let (plan, report) = store
        .prune(keep, window, Utc::now(), args.dry_run)
        .map_err(Error::failure)?;
    let after = store.page_counts();
    let shrinks = store.incremental_vacuum_enabled().unwrap_or(false);
    let freed = match (before, after) {
        (Ok((b, _, size)), Ok((a, _, _))) => (b - a).max(0) * size,
        _ => 0,
    };
    print_pruned(args, &plan, &report, freed);
    if !args.dry_run && !args.json {
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
    Ok(Exit::Ok)
}

/// `prune`'s report: what was (or would be) deleted, as JSON or as sentences.
fn print_pruned(
    args: &crate::cli::PruneArgs,
    plan: &store::PrunePlan,
    report: &store::PruneReport,
    freed: i64,
) {
    let cutoff = fmt_time(DateTime::from_timestamp(plan.cutoff, 0));
    if args.json {
        let _ = writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::json!({"dry_run": args.dry_run, "cutoff": cutoff, "stories": report.stories,
                "items": report.items, "sightings": report.sightings, "features": report.features,
                "alerts": report.alerts, "deliveries": report.deliveries, "bytes_freed": freed})
        );
        return;
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
    // Deliveries still to go out are never deleted, however old.
    println!(
        "{verb} {} sent or dead before {cutoff} (the outbox's waiting ones are kept)",
        plural(report.deliveries as usize, "delivery", "deliveries"),
    );
}

/// `outbox`: deliveries, newest first; `outbox retry ID|--dead`.
pub fn outbox(cfg: &Config, args: &OutboxArgs) -> Result {
    if let Some(OutboxCommand::Digest { sink }) = &args.action {
        let mut store = open_store(cfg)?;
        let sc = cfg.sinks.iter().find(|s| &s.name == sink);
        let ids = store
            .outbox_digest_now(sink, sc, Utc::now().timestamp_millis())
            .map_err(Error::failure)?;
        if ids.is_empty() {
            println!("nothing held for {}", Untrusted(sink));
        }
        for id in ids {
            println!("digest queued as delivery {id}");
        }
        return Ok(Exit::Ok);
    }
    if let Some(OutboxCommand::Retry(r)) = &args.action {
        let mut store = open_store(cfg)?;
        let id = if r.dead { None } else { r.id };
        let n = store
            .outbox_retry(id, Utc::now().timestamp_millis())
            .map_err(Error::failure)?;
        if n == 0
            && let Some(id) = id
        {
            return Err(Error::failure(format!(
                "no delivery with id {id} waiting or dead (a sent one is not sent again)"
            )));
        }
        // A running daemon picks them up at its next look at the outbox (within 5 s).
        println!("{} queued again", plural(n, "delivery", "deliveries"));
        return Ok(Exit::Ok);
    }
    let mut rows = read_sqlite(cfg, |store| {
        store.outbox_list(
            args.sink.as_deref(),
            args.state.as_deref(),
            probe_limit(args.limit),
        )
    })?;
    let cut = cut_to_limit(&mut rows, args.limit);
    let mut out = std::io::stdout().lock();
    for r in &rows {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
            continue;
        }
        let when = match r.state.as_str() {
            "sent" => format!("sent {}", fmt_time(r.sent)),
            "dead" => "dead".to_owned(),
            _ => format!("next {}", fmt_time(r.next)),
        };
        let _ = writeln!(
            out,
            "{:>6}  {:<7} {}  {}  attempts {}  {}",
            r.id,
            r.state,
            Untrusted(&r.sink),
            Untrusted(&r.idempotency_key),
            r.attempts,
            when
        );
        if let Some(t) = &r.title {
            let _ = writeln!(out, "        {}", Untrusted(t));
        }
        if let Some(e) = r.last_error.as_deref().filter(|_| r.state != "sent") {
            let _ = writeln!(out, "        last error: {}", Untrusted(e));
        }
    }
    report_cut(cut, "deliveries");
    Ok(Exit::Ok)
}

/// `sinks`: each sink's status; `sinks test NAME`: a sample alert sent now.
pub async fn sinks(cfg: &Config, args: &SinksArgs) -> Result {
    if let Some(SinksCommand::Test { name }) = &args.action {
        return sinks_test(cfg, name).await;
    }
    let names: Vec<String> = cfg.sinks.iter().map(|s| s.name.clone()).collect();
    let statuses = if cfg.database.exists() {
        read_sqlite(cfg, |store| store.sink_statuses(&names))?
    } else {
        names
            .iter()
            .map(|n| store::SinkStatus {
                sink: n.clone(),
                ..Default::default()
            })
            .collect()
    };
    let mut out = std::io::stdout().lock();
    for s in &statuses {
        let kind = cfg
            .sinks
            .iter()
            .find(|c| c.name == s.sink)
            .map_or("(not configured)", |c| c.kind.name());
        if args.list.json {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["kind"] = serde_json::Value::from(kind);
            let _ = writeln!(out, "{v}");
            continue;
        }
        let _ = writeln!(
            out,
            "{}  {kind}  queued {}  dead {}  sent {}  failures {}  last success {}",
            Untrusted(&s.sink),
            s.queued,
            s.dead,
            s.sends,
            s.failures,
            fmt_time(s.last_success)
        );
        if let Some(e) = &s.last_error {
            let _ = writeln!(
                out,
                "    last error {}: {}",
                fmt_time(s.last_error_at),
                Untrusted(e)
            );
        }
    }
    Ok(Exit::Ok)
}

async fn sinks_test(cfg: &Config, name: &str) -> Result {
    let Some(sc) = cfg.sinks.iter().find(|s| s.name == name) else {
        return Err(Error::failure(format!(
            "no sink named \"{}\" in {}",
            Untrusted(name),
            cfg.path.display()
        )));
    };
    let sinks = crate::sinks::build(cfg).map_err(|e| Error::failure(format!("{e:#}")))?;
    let Some(sink) = sinks.get(&sc.name) else {
        return Err(Error::failure(format!(
            "sink \"{}\" could not be built",
            Untrusted(name)
        )));
    };
    let topic = sc
        .topics
        .as_ref()
        .and_then(|t| t.first().cloned())
        .or_else(|| cfg.topics.first().map(|t| t.spec.name.clone()))
        .unwrap_or_else(|| "test".to_owned());
    let (key, body) = crate::sinks::sample_payload(&sc.name, &topic, Utc::now().timestamp_millis());
    match sink.send(&topic, &key, &body).await {
        crate::sinks::Outcome::Delivered(answer) => {
            println!("delivered: {}", Untrusted(&answer));
            Ok(Exit::Ok)
        }
        crate::sinks::Outcome::Transient { error, retry_after } => {
            let after = retry_after
                .map(|d| format!(" (Retry-After {})", humantime::format_duration(d)))
                .unwrap_or_default();
            println!("failed, would be retried{after}: {}", Untrusted(&error));
            Ok(Exit::Failure)
        }
        crate::sinks::Outcome::Permanent(error) => {
            println!("failed, would not be retried: {}", Untrusted(&error));
            Ok(Exit::Failure)
        }
    }
}
