//! The `newshound` binary: parse the command line, set up logging, run the command, exit.

use clap::Parser;

use newshound::cli::{Cli, Command, FeedsCommand, TopicsCommand};
use newshound::commands;
use newshound::exit::{Error, Exit, Result};
use newshound::logging::LogFilter;
use newshound::{alert, config, daemon, logging};

fn main() {
    newshound::memory::tune_allocator();
    let cli = Cli::parse();
    let exit = match start(cli) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("{e}");
            e.exit()
        }
    };
    std::process::exit(exit.code());
}

fn start(cli: Cli) -> Result {
    let filter = LogFilter::from_cli_or_env(cli.log_level.as_deref())
        .map_err(|e| Error::new(Exit::Usage, e))?;
    logging::init(cli.log_format, &filter);
    let path = cli.config.clone().unwrap_or_else(config::default_path);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(async_workers())
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let outcome = rt.block_on(run(cli, path, filter));
    // Dropping the runtime would wait for its blocking tasks: a writer stuck on a slow disk
    // must not hold the exit past what `run` promised (the WAL keeps the database consistent).
    rt.shutdown_background();
    outcome
}

/// Half the cores (at least one) for tokio: its share of the work (sockets, TLS, inflating
/// bodies) is small next to parsing, which has a thread per core (`cpu_pool`), and the store,
/// which has its own. A worker per core only competed with them, and cost an allocator arena
/// more (docs/performance.md, "Why the constants are what they are").
fn async_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .div_ceil(2)
}

async fn run(cli: Cli, path: std::path::PathBuf, filter: LogFilter) -> Result {
    match cli.command {
        Command::Check => return commands::check(&path),
        Command::Completions { shell } => return commands::completions(shell),
        Command::Manpage => return commands::manpage(),
        // Importing needs no config unless it writes to one: a new user starts here.
        Command::Feeds(ref f) => {
            if let Some(FeedsCommand::Import(args)) = &f.action {
                return commands::feeds_import(&path, args);
            }
        }
        _ => {}
    }
    // `parse` works without a config; it only borrows the fetch limits when one exists.
    if let Command::Parse(args) = &cli.command {
        let cfg = path.exists().then(|| config::load(&path).ok()).flatten();
        return commands::parse(cfg.as_ref(), args).await;
    }
    let cfg = commands::load_config(&path)?;
    if matches!(cli.command, Command::Once(_) | Command::Run) {
        alerts_visible(&cfg, &filter)?;
    }
    match &cli.command {
        Command::Once(args) => commands::once(cfg, args).await,
        Command::Run => daemon::run(cfg, path).await,
        Command::Feeds(args) => match &args.action {
            None => commands::feeds(&cfg, &args.list),
            Some(FeedsCommand::Export) => commands::feeds_export(&cfg),
            Some(FeedsCommand::Import(_)) => unreachable!("handled above"),
        },
        Command::Items(args) => commands::items(&cfg, args),
        Command::Alerts(args) => commands::alerts(&cfg, args),
        Command::Stories(args) => commands::stories(&cfg, args),
        Command::Search(args) => commands::search(&cfg, args),
        Command::Prune(args) => commands::prune(&cfg, args),
        Command::Topics(TopicsCommand::Test(args)) => commands::topics_test(&cfg, args),
        Command::Topics(TopicsCommand::Explain(args)) => commands::topics_explain(&cfg, args),
        Command::Outbox(args) => commands::outbox(&cfg, args),
        Command::Sinks(args) => commands::sinks(&cfg, args).await,
        Command::Instances { json } => commands::instances(&cfg, *json),
        Command::Check | Command::Parse(_) | Command::Completions { .. } | Command::Manpage => {
            unreachable!("handled above")
        }
    }
}

/// Alerts are log lines: a log filter that hides them must not do so silently. Hiding every
/// alert by accident (a global `off`, or directives for other targets only) is a usage error;
/// hiding some topics' levels is a warning, printed before the first poll.
fn alerts_visible(cfg: &config::Config, filter: &LogFilter) -> Result<()> {
    if cfg.topics.is_empty() {
        return Ok(());
    }
    if filter.hides_alerts_implicitly() {
        return Err(Error::new(
            Exit::Usage,
            format!(
                "the log filter \"{}\" hides every alert; alerts are log events of target {}: \
                 use --log-level info (or add {}=info; write {}=off to hide them on purpose)",
                filter.directives(),
                alert::TARGET,
                alert::TARGET,
                alert::TARGET
            ),
        ));
    }
    let hidden: Vec<&str> = cfg
        .topics
        .iter()
        .filter(|t| !filter.shows_alert(alert::level(t.level)))
        .map(|t| t.spec.name.as_str())
        .collect();
    if !hidden.is_empty() {
        eprintln!(
            "warning: the log filter \"{}\" hides the alerts of {} (their level is below it); \
             add {}=info to see them",
            filter.directives(),
            hidden.join(", "),
            alert::TARGET
        );
    }
    Ok(())
}
