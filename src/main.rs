//! The `newshound` binary: parse the command line, set up logging, run the command, exit.

use clap::Parser;

use newshound::cli::{Cli, Command, TopicsCommand};
use newshound::commands::{self, exit};
use newshound::{config, daemon, logging};

fn main() {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.log_level.as_deref());
    let path = cli.config.clone().unwrap_or_else(config::default_path);
    let code = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(async_workers())
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(cli, path)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            exit::FAILURE
        }
    };
    std::process::exit(code);
}

/// Half the cores (at least one) for tokio: its share of the work (sockets, TLS, inflating
/// bodies) is about a ninth of a cold run's CPU, while parsing has a thread per core
/// (`cpu_pool`) and the store its own. A worker per core only competed with them: on 2 cores,
/// one worker ran a cold 1,000 x 50 run in 3.6% less time and 1.9% less CPU, with 1.9 MB less
/// memory (one arena fewer; medians of 9, interleaved).
fn async_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .div_ceil(2)
}

async fn run(cli: Cli, path: std::path::PathBuf) -> i32 {
    if let Command::Check = cli.command {
        return commands::check(&path);
    }
    // `parse` works without a config; it only borrows the fetch limits when one exists.
    if let Command::Parse(args) = &cli.command {
        let cfg = path.exists().then(|| config::load(&path).ok()).flatten();
        return commands::parse(cfg.as_ref(), args).await;
    }
    let cfg = match commands::load_config(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match &cli.command {
        Command::Once(args) => commands::once(cfg, args).await,
        Command::Run => daemon::run(cfg, path).await,
        Command::Feeds(args) => commands::feeds(&cfg, args),
        Command::Items(args) => commands::items(&cfg, args),
        Command::Alerts(args) => commands::alerts(&cfg, args),
        Command::Stories(args) => commands::stories(&cfg, args),
        Command::Topics(TopicsCommand::Test(args)) => commands::topics_test(&cfg, args),
        Command::Topics(TopicsCommand::Explain(args)) => commands::topics_explain(&cfg, args),
        Command::Check | Command::Parse(_) => unreachable!("handled above"),
    }
}
