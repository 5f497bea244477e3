//! Story and topic quality on real news: runs `bench/quality.py` over the shared corpus with this
//! build's binary, and fails when a figure falls below the floors the script holds (FLOORS).
//!
//! The corpus is taken from `NEWSHOUND_CORPUS`, else `../shared/corpus` beside the checkout. CI
//! has it there, so under CI (env `CI` set) a missing corpus fails the test; only a local run
//! without any corpus skips it, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NEWSHOUND_CORPUS") {
        return Some(PathBuf::from(dir));
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    beside.join("items.jsonl").exists().then_some(beside)
}

#[test]
fn stories_and_topics_hold_their_floors_on_the_corpus() {
    let Some(corpus) = corpus() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the corpus at ../shared/corpus (or NEWSHOUND_CORPUS)"
        );
        eprintln!("SKIPPED: no corpus (set NEWSHOUND_CORPUS or put it at ../shared/corpus)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/quality.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_newshound"))
        .arg("--corpus")
        .arg(&corpus)
        // Order independence is a floor too: two shuffled ingests besides the plain one.
        .args(["--orders", "2"])
        .output()
        .expect("python3 runs bench/quality.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench/quality.py exited {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(stdout.contains("stories: P "), "{stdout}");
}
