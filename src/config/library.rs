//! The shipped topic library (`config/topics/*.toml`), compiled into the binary so that
//! `include = ["summit-scheduling"]` works wherever newshound is installed. An include entry that
//! looks like a path (it contains `/` or ends in `.toml`) reads that file instead, relative to the
//! config file: that is how a user keeps a modified copy of a shipped topic.

macro_rules! topic {
    ($name:literal) => {
        (
            $name,
            concat!("config/topics/", $name, ".toml"),
            include_str!(concat!("../../config/topics/", $name, ".toml")),
        )
    };
}

/// (name, path in the repository, text) of each shipped topic file.
pub const TOPICS: &[(&str, &str, &str)] = &[
    topic!("summit-scheduling"),
    topic!("defense-spending"),
    topic!("japan-us-trade"),
    topic!("us-china-trade"),
    topic!("sanctions"),
    topic!("snap-elections"),
    topic!("central-bank-decisions"),
];

/// The shipped topic file named `name`.
pub fn find(name: &str) -> Option<(&'static str, &'static str)> {
    TOPICS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, path, text)| (*path, *text))
}

/// Does an include entry name a file rather than a shipped topic?
pub fn is_path(entry: &str) -> bool {
    entry.contains('/') || entry.ends_with(".toml")
}
