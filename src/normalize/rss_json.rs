//! RSS 2.0 serialised as JSON ("RSS in JSON", scripting.com's format of 2017, published by
//! Scripting News and the feeds made with its tools): turned back into the RSS 2.0 XML it stands
//! for, which the XML path then reads like any other RSS document.
//!
//! The mapping, as the format's README describes it: `{"rss": {"version": "2.0", "channel": {…,
//! "item": [{…}]}}}`; an element is a property; a repeated element is an array; an element with
//! attributes is an object whose scalar properties are the attributes and whose `#value` is its
//! text (`"guid": {"isPermaLink": "false", "#value": "…"}`, `"enclosure": {"url": …}`). The
//! containers (`rss`, `channel`, `item`, `image`, `textInput`, `skipHours`, `skipDays`) hold
//! elements, not attributes. Names that are not XML names are dropped (the JSON is untrusted):
//! nothing in it can become markup.

use serde_json::Value;

/// Elements whose scalar properties are child elements, not attributes.
const CONTAINERS: [&str; 7] = [
    "rss",
    "channel",
    "item",
    "image",
    "textInput",
    "skipHours",
    "skipDays",
];

/// Is this JSON document RSS in JSON (an object whose `rss` holds a `channel`)?
pub fn is_rss_json(value: &Value) -> bool {
    value
        .get("rss")
        .and_then(|r| r.get("channel"))
        .is_some_and(Value::is_object)
}

/// The RSS 2.0 XML document an RSS-in-JSON document stands for; `None` when it is not one.
pub fn to_xml(value: &Value) -> Option<String> {
    let rss = value.get("rss")?.as_object()?;
    rss.get("channel")?.as_object()?;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss");
    let mut version = false;
    for (key, v) in rss {
        if (key == "version" || key.starts_with("xmlns"))
            && is_name(key)
            && let Some(text) = scalar(v)
        {
            version |= key == "version";
            push_attr(&mut out, key, &text);
        }
    }
    if !version {
        push_attr(&mut out, "version", "2.0");
    }
    out.push('>');
    if let Some(channel) = rss.get("channel") {
        element(&mut out, "channel", channel);
    }
    out.push_str("</rss>");
    Some(out)
}

fn element(out: &mut String, name: &str, value: &Value) {
    if !is_name(name) {
        return;
    }
    match value {
        Value::Array(values) => {
            for v in values {
                // An array of arrays has no element to stand for.
                if !v.is_array() {
                    element(out, name, v);
                }
            }
        }
        Value::Object(map) => {
            let container = CONTAINERS.contains(&name);
            out.push('<');
            out.push_str(name);
            if !container {
                for (key, v) in map {
                    if key != "#value"
                        && is_name(key)
                        && let Some(text) = scalar(v)
                    {
                        push_attr(out, key, &text);
                    }
                }
            }
            out.push('>');
            if let Some(text) = map.get("#value").and_then(scalar) {
                push_text(out, &text);
            }
            for (key, v) in map {
                if key == "#value" || (name == "rss" && key == "version") {
                    continue;
                }
                if container || v.is_object() || v.is_array() {
                    element(out, key, v);
                }
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Value::Null => {}
        v => {
            if let Some(text) = scalar(v) {
                out.push('<');
                out.push_str(name);
                out.push('>');
                push_text(out, &text);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An XML name of ASCII letters, digits, `_`, `-`, `.` and at most one `:` (a prefix), starting
/// with a letter or `_`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && name.matches(':').count() <= 1
        && !name.ends_with(':')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn push_attr(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push_str("=\"");
    push_text(out, value);
    out.push('"');
}

/// Text escaped for XML; characters XML 1.0 cannot hold are dropped.
fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_in_json_becomes_the_rss_it_stands_for() {
        let doc = serde_json::json!({"rss": {"version": "2.0", "xmlns:source": "http://source.scripting.com/",
        "channel": {"title": "T & co", "link": "http://x.example/",
            "item": [
                {"title": "A", "guid": {"isPermaLink": "false", "#value": "g1"},
                 "enclosure": {"url": "http://x.example/a.mp3", "length": 1, "type": "audio/mpeg"},
                 "category": ["c1", "c2"]},
                {"description": "<p>only</p>"}
            ]}}});
        // serde_json keeps an object's keys sorted (or in order, with `preserve_order`):
        // RSS does not care about the order of an item's elements.
        let xml = to_xml(&doc).unwrap_or_default();
        for part in [
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss ",
            " version=\"2.0\"",
            " xmlns:source=\"http://source.scripting.com/\"",
            "<title>T &amp; co</title>",
            "<link>http://x.example/</link>",
            "<guid isPermaLink=\"false\">g1</guid>",
            " url=\"http://x.example/a.mp3\"",
            " length=\"1\"",
            "<category>c1</category><category>c2</category>",
            "<item><description>&lt;p&gt;only&lt;/p&gt;</description></item>",
        ] {
            assert!(xml.contains(part), "{part} in {xml}");
        }
        assert_eq!(xml.matches("<item>").count(), 2, "{xml}");
    }

    #[test]
    fn names_that_are_not_xml_names_become_nothing() {
        let doc = serde_json::json!({"rss": {"channel": {"title": "T",
            "item": {"<script>": "x", "a b": "y", "title\"": "z", "title": "ok", "x:": "w"}}}});
        let xml = to_xml(&doc).unwrap_or_default();
        assert!(
            xml.contains("<item><title>ok</title></item>") && xml.ends_with("</channel></rss>"),
            "{xml}"
        );
        assert!(xml.contains("<rss version=\"2.0\">"), "{xml}");
    }
}
