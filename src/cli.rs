//! The command line (clap derive). Parsing only; `commands` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

pub(crate) const AFTER_HELP: &str = "\
Config file, the first found of:
  --config PATH, $NEWSHOUND_CONFIG
  $CONFIGURATION_DIRECTORY/config.toml     (under systemd)
  /etc/newshound/config.toml               (as root)
  $XDG_CONFIG_HOME/newshound/config.toml

Exit status:
  0    success
  1    runtime error
  2    usage error: a bad flag or value, or a log filter that is invalid or hides every alert
  10   `once` finished, but some feeds failed (the others were stored)
  73   the database cannot be created or opened
  78   the config is invalid
  130  `run` stopped at once by a second SIGTERM/SIGINT

Examples:
  newshound --config config/demo.toml once     poll the offline demo feeds once
  newshound check                              validate the config
  newshound items --since 1d --limit 20        the newest stored items
  newshound topics test summit-scheduling      try a topic against stored items";

/// `0.1.0 (a1b2c3d4e5f6)`: the crate's version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("NEWSHOUND_GIT_COMMIT"),
    ")"
);

/// Watches news feeds, stores every story once, and alerts in the logs when one matches a
/// watched topic.
#[derive(Debug, Parser)]
#[command(name = "newshound", version = VERSION, about, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// Config file (TOML).
    #[arg(
        short,
        long,
        global = true,
        env = "NEWSHOUND_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter: a level (trace, debug, info, warn or warning, error, off) or directives
    /// (`info,newshound::alert=warn`). Default: $NEWSHOUND_LOG, else `info`. A filter that
    /// hides every alert is refused.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config and print `ok: N feeds, M topics`, or every error with FILE:LINE:COLUMN.
    Check,
    /// Poll every feed once, store new items, log alerts, print a per-feed summary.
    Once(OnceArgs),
    /// Run as a service: poll each feed on its schedule until SIGTERM/SIGINT; SIGHUP reloads.
    Run,
    /// Show each feed's state: last fetch, HTTP status, validators, items, failures; or import
    /// and export feeds as OPML.
    Feeds(FeedsArgs),
    /// Show stored items, newest first.
    Items(ItemsArgs),
    /// Show stored alerts, newest first.
    Alerts(AlertsArgs),
    /// Show stories (the same news from any number of feeds), newest first, with their sources.
    Stories(StoriesArgs),
    /// Search stored items' titles and summaries: words (all must occur), "a phrase", word*
    /// (prefix), -word (exclude), a OR b. Best matches first, newer ones before older.
    Search(SearchArgs),
    /// Delete what is older than `[storage] keep` (never an item of an open story, nor one a
    /// feed still lists), then give the freed space back; --dry-run only says what it would.
    Prune(PruneArgs),
    /// Fetch or read one feed and print its normalized items, without storing anything.
    Parse(ParseArgs),
    /// Work with topics.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Show queued, failed, dead and sent deliveries of alerts to sinks; `outbox retry` sends
    /// dead ones again.
    Outbox(OutboxArgs),
    /// Show each sink's status (last success, last error, queue); `sinks test NAME` sends a
    /// sample alert now.
    Sinks(SinksArgs),
    /// List the daemons sharing a PostgreSQL store's work: id, host, live or stale, last
    /// heartbeat, leases held.
    Instances {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script: `newshound completions bash > /etc/bash_completion.d/newshound`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `newshound manpage | man -l -`.
    #[command(hide = true)]
    Manpage,
}

#[derive(Debug, Args)]
pub struct OnceArgs {
    /// Print the summary as JSON (one object per feed per line).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FeedsArgs {
    #[command(subcommand)]
    pub action: Option<FeedsCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum FeedsCommand {
    /// Read an OPML file (another reader's subscriptions) and print its feeds as `[[feeds]]`
    /// entries, folders and categories as tags; --write adds them to the config instead.
    Import(ImportArgs),
    /// Print the configured feeds as OPML 2.0, tags as categories.
    Export,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The OPML file.
    pub file: PathBuf,
    /// Append the new feeds to the config file (comments and layout kept), after checking that
    /// the result is a valid config. Feeds whose URL is already configured are skipped.
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ItemsArgs {
    /// Only items seen in this feed (by name).
    #[arg(long)]
    pub feed: Option<String>,
    /// Only items first seen within this long ago, e.g. `2h`, `7d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// At most this many items.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Say why each item is in its story (first item, or the similarity that joined it).
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct StoriesArgs {
    /// Only stories started within this long ago, e.g. `1d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Only stories reported by at least this many feeds.
    #[arg(long, default_value_t = 1)]
    pub min_sources: usize,
    /// At most this many stories.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per story per line (with its items).
    #[arg(long)]
    pub json: bool,
    /// List each story's items and why they were joined.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Only alerts of this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only alerts raised within this long ago.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// At most this many alerts.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query; several arguments are joined with spaces. Quote a query that starts with
    /// `-` (`'-rumour summit'`), or put `--` before it.
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only items first seen within this long ago, e.g. `7d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// At most this many results (at most 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// One JSON object per result per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only count what would be deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the counts as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// A feed file, or an http(s) URL.
    pub source: String,
    /// One JSON object per item per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Run a topic (or an ad-hoc query) over stored items and show what would match; with
    /// --labels, score it against labelled items and list every false positive and negative.
    Test(TopicsTestArgs),
    /// Show how a topic's queries evaluate on one stored item, clause by clause.
    Explain(TopicsExplainArgs),
}

#[derive(Debug, Args)]
pub struct TopicsExplainArgs {
    /// A topic name from the config.
    pub name: String,
    /// The stored item: its id (as `items --json` prints it) or its URL.
    pub item: String,
}

#[derive(Debug, Args)]
pub struct TopicsTestArgs {
    /// A topic name from the config.
    #[arg(required_unless_present = "query", conflicts_with = "query")]
    pub name: Option<String>,
    /// An ad-hoc query instead of a configured topic.
    #[arg(long)]
    pub query: Option<String>,
    /// Only items first seen within this long ago.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Look at this many of the newest items at most.
    #[arg(long, default_value_t = 10_000)]
    pub limit: usize,
    /// One JSON object per matching item per line (with --labels: one summary object).
    #[arg(long)]
    pub json: bool,
    /// Score the topic against labelled items: JSON lines of {"link"|"url"|"id", "label": bool}
    /// or the corpus shape {"id", "labels": {"TOPIC": true|false|"uncertain"}}.
    #[arg(long, value_name = "FILE.jsonl")]
    pub labels: Option<PathBuf>,
    /// JSON lines with "id" and "link" that resolve the labels' ids to links (e.g. the corpus's
    /// items.jsonl); without it an id must be a stored item's id.
    #[arg(long, value_name = "FILE.jsonl", requires = "labels")]
    pub items: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: Option<OutboxCommand>,
    /// Only deliveries to this sink.
    #[arg(long)]
    pub sink: Option<String>,
    /// Only deliveries in this state.
    #[arg(long, value_parser = ["pending", "failed", "dead", "sent", "held", "digested"])]
    pub state: Option<String>,
    /// At most this many deliveries, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Queue a delivery again, due now, with a fresh give_up_after: by ID, or every dead one.
    Retry(OutboxRetryArgs),
    /// Fold a sink's held alerts (digest, or over max_per_hour) into its digests now (its own,
    /// and one per topic with a digest of its own), instead of at their scheduled times.
    Digest {
        /// The sink's name.
        sink: String,
    },
}

#[derive(Debug, Args)]
pub struct OutboxRetryArgs {
    /// The delivery's id (as `outbox` prints it).
    #[arg(required_unless_present = "dead", conflicts_with = "dead")]
    pub id: Option<i64>,
    /// Every dead-lettered delivery.
    #[arg(long)]
    pub dead: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SinksArgs {
    #[command(subcommand)]
    pub action: Option<SinksCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, Subcommand)]
pub enum SinksCommand {
    /// Send a sample alert to one sink now and print the receiver's answer (nothing queued).
    Test {
        /// The sink's name.
        name: String,
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(s)
}
