//! Stories end to end: a story merge that is not certain never costs an alert, while a copy of
//! one article alerts once.

use crate::common::{Reply, Server, Workspace, json_lines, rss};

/// A topic both items below match.
const TOPIC: &str = "[[topics]]\nname = \"ev-tariffs\"\nquery = '''tariffs OR duties'''\n";

// The news, and a reaction to it: one story for display, but a different development.
const NEWS: (&str, &str) = (
    "Washington to hit Beijing with new 100% tariffs on electric vehicles",
    "The White House said on Tuesday it will impose 100% tariffs on Chinese electric vehicles and raise duties on batteries and solar cells.",
);
const REACTION: (&str, &str) = (
    "Beijing vows to retaliate against Washington's new tariffs",
    "China's commerce ministry said it would take all necessary measures to defend its companies after the new duties on electric vehicles.",
);

fn workspace(server: &Server) -> Workspace {
    Workspace::new(&format!(
        "[[feeds]]\nname = \"wire\"\nurl = \"{}\"\n[[feeds]]\nname = \"paper\"\nurl = \"{}\"\n\n{TOPIC}",
        server.url("/wire"),
        server.url("/paper"),
    ))
}

#[test]
fn a_loose_story_merge_never_hides_an_alert() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[("w1", NEWS.0, "https://wire.example/ev", NEWS.1)]),
            "\"1\"",
        ),
    );
    server.route(
        "/paper",
        Reply::feed(
            &rss(&[("p1", REACTION.0, "https://paper.example/react", REACTION.1)]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The two are one story (so the old "once per story" would have dropped one alert) ...
    let stories = json_lines(&ws.run(&["stories", "--json"]).stdout);
    assert_eq!(stories.len(), 1, "{stories:#?}");
    assert_eq!(stories[0]["items"].as_array().map(Vec::len), Some(2));
    // ... yet each alerted: the reaction is not confidently the same news.
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
}

#[test]
fn a_syndicated_copy_alerts_once() {
    let server = Server::start();
    server.route(
        "/wire",
        Reply::feed(
            &rss(&[("w1", NEWS.0, "https://wire.example/ev", NEWS.1)]),
            "\"1\"",
        ),
    );
    // The same article under the paper's own URL.
    server.route(
        "/paper",
        Reply::feed(
            &rss(&[(
                "p1",
                NEWS.0,
                "https://paper.example/world/ev-tariffs",
                NEWS.1,
            )]),
            "\"1\"",
        ),
    );
    let ws = workspace(&server);
    let run = ws.run(&["once"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = json_lines(&ws.run(&["alerts", "--json"]).stdout);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let explain = ws.run(&["stories", "--explain"]).stdout;
    assert!(explain.contains("same article"), "{explain}");
}
