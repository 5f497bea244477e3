//! `exec`: run a program (argv from the config, no shell) with the alert's JSON on stdin and
//! `NEWSHOUND_IDEMPOTENCY_KEY` in its environment. Exit 0 is delivered; anything else, or
//! running past the sink's timeout (the child is killed), is retried. Its stderr is logged,
//! escaped, truncated; its stdout is discarded.

use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::retry::Outcome;
use crate::text::Untrusted;

/// Bytes of stderr kept.
const STDERR_BYTES: usize = 16 * 1024;

pub struct Exec {
    argv: Vec<String>,
}

impl Exec {
    pub fn new(argv: &[String]) -> Exec {
        Exec {
            argv: argv.to_vec(),
        }
    }

    /// Runs the command once. Dropping the future (the sink's timeout, shutdown) kills it.
    pub async fn send(&self, sink: &str, key: &str, payload: &str) -> Outcome {
        let Some((program, args)) = self.argv.split_first() else {
            return Outcome::Permanent("empty command".into());
        };
        let mut child = match tokio::process::Command::new(program)
            .args(args)
            .env("NEWSHOUND_IDEMPOTENCY_KEY", key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            // Not found or not executable: retried, since the fix (installing it) needs no
            // change to the queue; `give_up_after` still ends it.
            Err(e) => {
                return Outcome::Transient {
                    error: format!("cannot run {program}: {e}"),
                    retry_after: None,
                };
            }
        };
        let stdin = child.stdin.take();
        let stderr = child.stderr.take();
        let body = payload.as_bytes().to_vec();
        // Write stdin and read stderr together: a child that writes much before reading
        // would otherwise block on a full pipe while we block on its stdin.
        let write = async move {
            if let Some(mut w) = stdin {
                // A child that exits without reading closes the pipe: not our failure.
                let _ = w.write_all(&body).await;
            }
        };
        let read = async move {
            let mut kept = Vec::new();
            if let Some(mut r) = stderr {
                let mut buf = [0u8; 4096];
                while let Ok(n) = r.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let room = STDERR_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
            kept
        };
        let ((), err) = tokio::join!(write, read);
        let status = match child.wait().await {
            Ok(s) => s,
            Err(e) => {
                return Outcome::Transient {
                    error: format!("waiting for {program}: {e}"),
                    retry_after: None,
                };
            }
        };
        let err = String::from_utf8_lossy(&err);
        let err = err.trim();
        if !err.is_empty() {
            tracing::info!(sink = %sink, key = %Untrusted(key), stderr = %Untrusted(err), "exec sink wrote to stderr");
        }
        let first_line = err.lines().next().unwrap_or("");
        match status.code() {
            Some(0) => Outcome::Delivered("exit status 0".into()),
            Some(code) => Outcome::Transient {
                error: format!("exit status {code}: {first_line}"),
                retry_after: None,
            },
            None => Outcome::Transient {
                error: format!("killed by a signal: {first_line}"),
                retry_after: None,
            },
        }
    }
}
