//! Records the git commit the binary is built from, for `newshound --version`.
//!
//! `NEWSHOUND_GIT_COMMIT` in the environment wins (a packager building from a tarball sets it);
//! otherwise `git rev-parse`, and `unknown` outside a checkout. The script reruns when HEAD or
//! the branch it points at moves, not on every source change.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !s.trim().is_empty()).then(|| s.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=NEWSHOUND_GIT_COMMIT");
    let commit = std::env::var("NEWSHOUND_GIT_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=NEWSHOUND_GIT_COMMIT={commit}");
    if let Some(head) = git(&["rev-parse", "--path-format=absolute", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={path}");
    }
}
