//! Broken configs: `check` exits 78 and names FILE:LINE:COLUMN with what was expected.

use crate::common::*;

/// (config text, expected "LINE:COLUMN: message" fragment). Line numbers count the two
/// `[storage]` lines and the blank line the workspace puts first.
const CASES: &[(&str, &str)] = &[
    (
        "[defaults]\nconcurrency = \"ten\"\n",
        "5:15: invalid type: string \"ten\", expected i64",
    ),
    (
        "[[feeds]]\nurl = \"https://a.example/\"\nnmae = \"x\"\n",
        "6:1: unknown field `nmae`",
    ),
    (
        "[[feeds]]\nurl = \"not a url://\"\n",
        "5:7: invalid feed URL",
    ),
    (
        "[[feeds]]\nurl = \"ftp://a.example/\"\n",
        "5:7: unsupported URL scheme \"ftp\"",
    ),
    ("[[feeds]]\nurl = \"\"\n", "5:7: feed url is empty"),
    (
        "[[feeds]]\nname = \"a\"\nurl = \"https://a.example/\"\n[[feeds]]\nname = \"a\"\nurl = \"https://b.example/\"\n",
        "8:8: duplicate feed name \"a\"",
    ),
    (
        "[[feeds]]\nurl = \"https://a.example/\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
        "7:7: duplicate feed URL",
    ),
    (
        "[defaults]\ninterval = \"-5m\"\n",
        "5:12: interval: \"-5m\" is not a duration",
    ),
    (
        "[defaults]\ninterval = \"0s\"\n",
        "5:12: interval must be longer than zero",
    ),
    (
        "[defaults]\ninterval = 15\n",
        "5:12: invalid type: integer `15`, expected a string",
    ),
    (
        "[defaults]\nmax_body_size = \"12 parsecs\"\n",
        "5:17: max_body_size: \"12 parsecs\" is not a size",
    ),
    (
        "[defaults]\nmax_body_size = 10\n",
        "5:17: max_body_size of 10 bytes is too small",
    ),
    (
        "[defaults]\nconcurrency = 0\n",
        "5:15: concurrency must be between 1 and 1024, got 0",
    ),
    (
        "[defaults]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n",
        "5:16: min_interval is longer than max_interval",
    ),
    (
        "[storage2]\npath = \"x\"\n",
        "4:2: unknown field `storage2`, expected one of `storage`",
    ),
    (
        "[[topics]]\nname = \"t\"\nquery = '(summit OR'\n",
        "6:20: topic \"t\": expected a word",
    ),
    (
        "[[topics]]\nname = \"t\"\n",
        "5:8: topic \"t\" needs a query",
    ),
    (
        "[[topics]]\nname = \"t\"\nquery = \"x\"\nlevel = \"loud\"\n",
        "7:9: level must be one of error, warn, info, debug, trace",
    ),
    (
        "[[topics]]\nname = \"t\"\nquery = \"x\"\nstem = \"klingon\"\n",
        "7:8: stem must be a language such as \"english\"",
    ),
    (
        "[[topics]]\nname = \"t\"\nquery = \"x\"\nfeeds = [\"nope\"]\n",
        "7:10: topic \"t\" names feed \"nope\", which is not configured",
    ),
    (
        "[[topics]]\nname = \"t\"\nquery = \"x\"\n[[topics]]\nname = \"t\"\nquery = \"y\"\n",
        "8:8: duplicate topic name \"t\"",
    ),
    (
        "[alerts]\nmax_age = \"sometimes\"\n",
        "5:11: max_age: \"sometimes\" is not a duration",
    ),
    (
        "[stories]\nthreshold = 3.0\n",
        "5:13: stories.threshold must be between 0.05 and 1.0",
    ),
    (
        "[[feeds]\nurl = \"x\"\n",
        "4:9: unclosed array table, expected `]`",
    ),
    (
        "[[feeds]]\nurl = \"https://a.example/\"\nheaders = { \"Bad Header\" = \"x\" }\n",
        "6:28: \"Bad Header\" is not a valid HTTP header name",
    ),
];

#[test]
fn every_broken_config_exits_78_with_file_line_column() {
    let mut failures = Vec::new();
    for (text, expected) in CASES {
        let ws = Workspace::new(text);
        let r = ws.run(&["check"]);
        let want = format!("{}:{expected}", ws.config.display());
        if r.code != 78 || !r.stderr.contains(&want) {
            failures.push(format!(
                "config:\n{text}\nexit {}, expected {want:?} in:\n{}",
                r.code, r.stderr
            ));
        }
        // Every diagnostic shows the offending line with a caret under the column.
        if r.code == 78 && !r.stderr.contains("   | ") {
            failures.push(format!("no snippet for:\n{text}\n{}", r.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn an_unreadable_config_is_a_config_error() {
    let ws = Workspace::new("");
    let dir_as_config = ws.dir.path().to_str().unwrap().to_owned();
    let r = run_bin(&["--config", &dir_as_config, "check"]);
    assert_eq!(r.code, 78);
    assert!(r.stderr.contains("cannot read config file"), "{}", r.stderr);
}

/// One pass reports every mistake: an unknown key, a value of the wrong type and a missing
/// required key each used to hide all the others, and a duplicate topic hid its own bad feed name.
#[test]
fn check_reports_ten_different_mistakes_at_once_in_file_order() {
    let ws = Workspace::new(
        "[defaults]\ninterval = \"often\"\nconcurrency = \"many\"\ncolour = true\n\n\
         [alerts]\nmax_age = \"soon\"\n\n\
         [[feeds]]\nurl = \"ftp://x.example/\"\n\n\
         [[feeds]]\nname = \"nourl\"\n\n\
         [[feeds]]\nurl = \"https://a.example/feed\"\ninterval = 5\n\n\
         [[topics]]\nname = \"a\"\nquery = '(summit OR'\n\n\
         [[topics]]\nname = \"a\"\nquery = 'x'\nfeeds = [\"nope\"]\nlevel = \"loud\"\n",
    );
    let r = ws.run(&["check"]);
    assert_eq!(r.code, 78, "{}", r.stderr);
    let expected = [
        "5:12: interval: \"often\" is not a duration",
        "6:15: invalid type: string \"many\", expected i64",
        "7:1: unknown field `colour`",
        "10:11: max_age: \"soon\" is not a duration",
        "13:7: unsupported URL scheme \"ftp\"",
        "15:1: missing field `url`",
        "20:12: invalid type: integer `5`, expected a string",
        "24:20: topic \"a\": expected a word",
        "27:8: duplicate topic name \"a\"",
        "29:10: topic \"a\" names feed \"nope\", which is not configured",
        "30:9: level must be one of error, warn, info, debug, trace",
    ];
    let file = ws.config.display().to_string();
    let reported: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&file)?.strip_prefix(':'))
        .collect();
    assert_eq!(reported.len(), expected.len(), "{}", r.stderr);
    for (got, want) in reported.iter().zip(expected) {
        assert!(got.starts_with(want), "expected {want:?}, got {got:?}");
    }
    assert!(r.stderr.contains("11 errors in config"), "{}", r.stderr);
}
