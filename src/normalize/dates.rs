//! Feed dates: lenient parsing of what publishers actually write, and sanity limits.
//!
//! feed-rs's own parser misses ISO-8601 without seconds ("2024-12-31T11:53+09:00") and a few
//! RFC-822 variants; this one is handed to feed-rs as its timestamp parser, so every date field
//! goes through it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Parses a feed date. Times without a zone are taken as UTC. Dates before 1970 or after 2200
/// are treated as absent (a feed that says year 9999 does not know when it published).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    // Each form tried first where it is likely: ISO 8601 starts with a four-digit year, RFC 822
    // (RSS) with a day name or number. Failing the ISO formats first cost an RSS date ~4,000
    // instructions; the other form is still tried when the likely one fails.
    let iso = t
        .as_bytes()
        .get(..4)
        .is_some_and(|y| y.iter().all(u8::is_ascii_digit));
    let parsed = if iso {
        rfc3339ish(t).or_else(|| rfc2822ish(t))
    } else {
        rfc2822ish(t).or_else(|| rfc3339ish(t))
    }?;
    let year = chrono::Datelike::year(&parsed);
    (1970..=2200).contains(&year).then_some(parsed)
}

fn rfc3339ish(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    let t = t.replacen(' ', "T", 1);
    let (body, offset) = split_offset(&t);
    // Slashes as well as dashes: "2020/1/10 14:33:00" (Chinese and Japanese sites).
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y%m%dT%H%M%S",
        "%Y/%m/%dT%H:%M:%S",
        "%Y/%m/%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(body, f).ok())
    .or_else(|| {
        ["%Y-%m-%d", "%Y/%m/%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(body, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    let offset = offset?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// Splits "2024-12-31T11:53+09:00" into the local part and its offset ("Z" or none → UTC).
/// The offset is `None` when present but malformed.
fn split_offset(t: &str) -> (&str, Option<FixedOffset>) {
    if let Some(body) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        return (body, FixedOffset::east_opt(0));
    }
    // An offset starts at the last '+' or '-' after the time part.
    let time_start = t.find('T').unwrap_or(t.len());
    if let Some(pos) = t[time_start..].rfind(['+', '-']).map(|p| p + time_start) {
        let (body, off) = t.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(char::is_ascii_digit).collect();
        let (h, m) = match digits.len() {
            2 => (digits.parse::<i32>().ok(), Some(0)),
            4 => (
                digits[..2].parse::<i32>().ok(),
                digits[2..].parse::<i32>().ok(),
            ),
            _ => (None, None),
        };
        return match (h, m) {
            (Some(h), Some(m)) if h <= 23 && m <= 59 => {
                (body, FixedOffset::east_opt(sign * (h * 3600 + m * 60)))
            }
            _ => (body, None),
        };
    }
    (t, FixedOffset::east_opt(0))
}

fn rfc2822ish(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    // Zone names chrono does not know, and missing zones.
    let mut parts: Vec<&str> = t.split_whitespace().collect();
    let zone = parts.last().copied().unwrap_or_default();
    let offset = match zone.to_ascii_uppercase().as_str() {
        "UTC" | "UT" | "GMT" | "Z" => Some("+0000"),
        "EST" => Some("-0500"),
        "EDT" => Some("-0400"),
        "CST" => Some("-0600"),
        "CDT" => Some("-0500"),
        "MST" => Some("-0700"),
        "MDT" => Some("-0600"),
        "PST" => Some("-0800"),
        "PDT" => Some("-0700"),
        "JST" => Some("+0900"),
        "KST" => Some("+0900"),
        "CET" => Some("+0100"),
        "CEST" => Some("+0200"),
        "BST" => Some("+0100"),
        "IST" => Some("+0530"),
        "AEST" => Some("+1000"),
        _ => None,
    };
    let had_zone = offset.is_some() || zone.starts_with(['+', '-']);
    if had_zone {
        parts.pop();
    }
    let zone = offset
        .map(str::to_owned)
        .or_else(|| had_zone.then(|| zone.to_owned()))
        .unwrap_or_else(|| "+0000".to_owned());
    // Drop a leading day name ("Tue," or "Tuesday,").
    if parts
        .first()
        .is_some_and(|p| p.trim_end_matches(',').chars().all(char::is_alphabetic))
    {
        parts.remove(0);
    }
    let mut joined = parts.join(" ");
    // "11:53" without seconds.
    if joined.matches(':').count() == 1 {
        joined.push_str(":00");
    }
    let candidate = format!("{joined} {zone}");
    [
        "%d %b %Y %H:%M:%S %z",
        "%d %B %Y %H:%M:%S %z",
        "%b %d %Y %H:%M:%S %z",
        "%d %b %y %H:%M:%S %z",
        // A 12-hour clock: "Sat, Dec 16 2023 02:02:33 PM".
        "%b %d %Y %I:%M:%S %p %z",
        "%d %b %Y %I:%M:%S %p %z",
    ]
    .iter()
    .find_map(|f| DateTime::parse_from_str(&candidate, f).ok())
    .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn iso(s: &str) -> String {
        parse(s)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn rfc3339_and_iso_variants() {
        assert_eq!(
            iso("2024-12-31T11:53:00+09:00"),
            "2024-12-31T02:53:00+00:00"
        );
        assert_eq!(iso("2024-12-31T11:53+09:00"), "2024-12-31T02:53:00+00:00");
        assert_eq!(iso("2024-12-31 11:53:10Z"), "2024-12-31T11:53:10+00:00");
        assert_eq!(iso("2024-12-31T11:53:10"), "2024-12-31T11:53:10+00:00");
        assert_eq!(iso("2024-12-31"), "2024-12-31T00:00:00+00:00");
        assert_eq!(
            iso("2024-12-31T11:53:10.123-0500"),
            "2024-12-31T16:53:10.123+00:00"
        );
    }

    #[test]
    fn rfc2822_and_its_variants() {
        assert_eq!(
            iso("Tue, 31 Dec 2024 02:53:00 GMT"),
            "2024-12-31T02:53:00+00:00"
        );
        assert_eq!(
            iso("Tue, 31 Dec 2024 11:53:00 JST"),
            "2024-12-31T02:53:00+00:00"
        );
        assert_eq!(iso("31 Dec 2024 11:53 +0900"), "2024-12-31T02:53:00+00:00");
        assert_eq!(
            iso("Tuesday, 31 December 2024 02:53:00"),
            "2024-12-31T02:53:00+00:00"
        );
        // Seen in the shared corpus (issue #15): a 12-hour clock, and slashes.
        assert_eq!(
            iso("Sat, Dec 16 2023 02:02:33 PM"),
            "2023-12-16T14:02:33+00:00"
        );
        assert_eq!(iso("2020/1/10 14:33:00"), "2020-01-10T14:33:00+00:00");
    }

    #[test]
    fn trying_the_likely_form_first_changes_no_result() {
        let days = ["", "Tue, ", "Tuesday, ", "2024 "];
        let dates = [
            "31 Dec 2024",
            "Dec 31 2024",
            "31 December 24",
            "2024-12-31",
            "20241231",
        ];
        let times = [
            "",
            " 11:53",
            "T11:53",
            " 11:53:10",
            "T11:53:10.5",
            "T115310",
        ];
        let zones = ["", " GMT", " JST", "Z", "+09:00", " -0500", " +09", " XYZ"];
        let mut n = 0;
        for d in days {
            for date in dates {
                for time in times {
                    for zone in zones {
                        let t = format!("{d}{date}{time}{zone}");
                        let either = rfc3339ish(&t).or_else(|| rfc2822ish(&t));
                        let either = either.filter(|p| (1970..=2200).contains(&p.year()));
                        assert_eq!(parse(&t), either, "{t}");
                        n += usize::from(either.is_some());
                    }
                }
            }
        }
        // Both forms are among the inputs that parse.
        assert!(n >= 50, "{n}");
        assert!(parse("Tue, 31 Dec 2024 11:53:10 GMT").is_some());
        assert!(parse("2024-12-31T11:53:10Z").is_some());
    }

    #[test]
    fn garbage_and_absurd_dates_are_absent() {
        for s in [
            "",
            "yesterday",
            "2024-13-45",
            "25:61:00",
            "Fri, 01 Jan 9999 00:00:00 GMT",
            "0000-01-01T00:00:00Z",
        ] {
            assert_eq!(iso(s), "none", "{s}");
        }
    }
}
