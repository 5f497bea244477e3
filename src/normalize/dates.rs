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
        "CET" | "MEZ" => Some("+0100"),
        "CEST" | "MESZ" => Some("+0200"),
        "BST" => Some("+0100"),
        "IST" => Some("+0530"),
        "AEST" => Some("+1000"),
        "AEDT" => Some("+1100"),
        "MET" => Some("+0100"),
        "MEST" => Some("+0200"),
        "EET" => Some("+0200"),
        "EEST" => Some("+0300"),
        "WET" => Some("+0000"),
        "WEST" => Some("+0100"),
        "MSK" => Some("+0300"),
        "HKT" | "SGT" => Some("+0800"),
        "NZST" => Some("+1200"),
        "NZDT" => Some("+1300"),
        "AST" => Some("-0400"),
        "ADT" => Some("-0300"),
        "ET" => Some("-0500"),
        "CT" => Some("-0600"),
        "MT" => Some("-0700"),
        "PT" => Some("-0800"),
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
    let mut joined = english_words(&parts)?;
    // "11:53" without seconds; a date without a time is at midnight (as feedparser reads it).
    match joined.matches(':').count() {
        0 => joined.push_str(" 00:00:00"),
        1 => joined.push_str(":00"),
        _ => {}
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

/// The date's words as the English RFC 822 ones chrono reads: a month named in any of
/// [`MONTHS`]' languages becomes its English abbreviation; day names (`Tue,`, `mer.,`,
/// `Mittwoch,`), the fillers of long forms (`16 de noviembre de 2022`, `16. November`) and
/// trailing dots go. `None` when nothing is left.
fn english_words(parts: &[&str]) -> Option<String> {
    let mut out: Vec<std::borrow::Cow<'_, str>> = Vec::with_capacity(parts.len());
    let months: Vec<Option<usize>> = parts
        .iter()
        .map(|p| month_of(p.trim_end_matches([',', '.'])))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let word = part.trim_end_matches([',', '.']);
        if word.is_empty() {
            continue;
        }
        let alphabetic = word.chars().all(|c| c.is_alphabetic() || c == '-');
        let before_numbers = parts[..i]
            .iter()
            .all(|p| !p.starts_with(|c: char| c.is_ascii_digit()));
        match months[i] {
            // `mar` is Tuesday in Spanish and French, and March: a day name when a month follows.
            Some(_) if before_numbers && months[i + 1..].iter().any(Option::is_some) => {}
            Some(m) => out.push(ENGLISH[m].into()),
            None if alphabetic && before_numbers => {}
            None if FILLERS.contains(&word.to_lowercase().as_str()) => {}
            None if word.bytes().all(|b| b.is_ascii_digit()) => out.push(word.into()),
            None => out.push((*part).into()),
        }
    }
    (!out.is_empty()).then(|| out.join(" "))
}

const ENGLISH: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Words between a long-form date's parts: Spanish and Portuguese `de`, French `à`, German
/// `um`, Dutch `om`, Italian `alle`, Scandinavian `kl`.
const FILLERS: [&str; 8] = ["de", "del", "à", "às", "um", "om", "alle", "kl"];

/// Month names of the languages feeds publish dates in (English, German, French, Spanish,
/// Italian, Portuguese, Dutch, Swedish, Danish, Norwegian, Polish, Greek): a word names a
/// month when it is at least three letters long and begins a name of that month and of no
/// other (`nov`, `févr`, `sept`, `dic`, `mag`; not `jui`, June or July in French).
const MONTHS: [&[&str]; 12] = [
    &[
        "january",
        "januar",
        "januari",
        "janvier",
        "enero",
        "gennaio",
        "janeiro",
        "stycznia",
        "styczeń",
        "ιανουαρίου",
        "ιανουάριος",
    ],
    &[
        "february",
        "februar",
        "februari",
        "février",
        "fevrier",
        "febrero",
        "febbraio",
        "fevereiro",
        "lutego",
        "luty",
        "φεβρουαρίου",
        "φεβρουάριος",
    ],
    &[
        "march",
        "märz",
        "marz",
        "mrz",
        "maart",
        "mrt",
        "mars",
        "marts",
        "marzo",
        "março",
        "marca",
        "marzec",
        "μαρτίου",
        "μάρτιος",
        "μάώ",
        "μαώ",
    ],
    &[
        "april",
        "avril",
        "abril",
        "aprile",
        "kwietnia",
        "kwiecień",
        "απριλίου",
        "απρίλιος",
    ],
    &[
        "may",
        "mai",
        "mei",
        "maj",
        "mayo",
        "maggio",
        "maio",
        "maja",
        "μαΐου",
        "μάιος",
        "μάι",
        "μαϊ",
        "μαι",
    ],
    &[
        "june",
        "juni",
        "juin",
        "junio",
        "giugno",
        "junho",
        "czerwca",
        "czerwiec",
        "ιουνίου",
        "ιούνιος",
        "ιον",
        "ιουν",
    ],
    &[
        "july",
        "juli",
        "juillet",
        "julio",
        "luglio",
        "julho",
        "lipca",
        "lipiec",
        "ιουλίου",
        "ιούλιος",
        "ιολ",
        "ιουλ",
    ],
    &[
        "august",
        "augustus",
        "augusti",
        "août",
        "aout",
        "agosto",
        "sierpnia",
        "sierpień",
        "αυγούστου",
        "αύγουστος",
    ],
    &[
        "september",
        "septembre",
        "septiembre",
        "settembre",
        "setembro",
        "września",
        "wrzesień",
        "σεπτεμβρίου",
        "σεπτέμβριος",
    ],
    &[
        "october",
        "oktober",
        "octobre",
        "octubre",
        "ottobre",
        "outubro",
        "października",
        "październik",
        "οκτωβρίου",
        "οκτώβριος",
    ],
    &[
        "november",
        "novembre",
        "noviembre",
        "novembro",
        "listopada",
        "listopad",
        "νοεμβρίου",
        "νοέμβριος",
    ],
    &[
        "december",
        "dezember",
        "décembre",
        "decembre",
        "diciembre",
        "dicembre",
        "dezembro",
        "desember",
        "grudnia",
        "grudzień",
        "δεκεμβρίου",
        "δεκέμβριος",
    ],
];

/// The month (0 = January) a word names, in any of [`MONTHS`]' languages.
fn month_of(word: &str) -> Option<usize> {
    if word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let word = word.to_lowercase();
    let mut found = None;
    for (m, names) in MONTHS.iter().enumerate() {
        if names.iter().any(|n| n.starts_with(word.as_str())) {
            if found.is_some_and(|f| f != m) {
                return None;
            }
            found = Some(m);
        }
    }
    found
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
    fn month_and_day_names_in_the_languages_feeds_use() {
        for (text, want) in [
            // Seen in feed-rs's fixture of Il Messaggero (Italian).
            (
                "mer, 16 nov 2022 00:38:15 +0100",
                "2022-11-15T23:38:15+00:00",
            ),
            (
                "Mi, 16 Nov 2022 10:00:00 +0100",
                "2022-11-16T09:00:00+00:00",
            ),
            (
                "Mittwoch, 16. März 2022 10:00:00 MEZ",
                "2022-03-16T09:00:00+00:00",
            ),
            (
                "Do, 02 Mär 2023 08:15:00 +0100",
                "2023-03-02T07:15:00+00:00",
            ),
            (
                "mer., 16 févr. 2022 10:00:00 +0100",
                "2022-02-16T09:00:00+00:00",
            ),
            (
                "jeu., 07 juil. 2022 10:00:00 GMT",
                "2022-07-07T10:00:00+00:00",
            ),
            ("16 août 2022 10:00", "2022-08-16T10:00:00+00:00"),
            (
                "mar, 01 mar 2022 10:00:00 +0000",
                "2022-03-01T10:00:00+00:00",
            ),
            (
                "mié, 16 dic 2022 10:00:00 -0300",
                "2022-12-16T13:00:00+00:00",
            ),
            (
                "16 de noviembre de 2022 10:00:00 +0100",
                "2022-11-16T09:00:00+00:00",
            ),
            (
                "Qua, 16 Out 2022 10:00:00 -0300",
                "2022-10-16T13:00:00+00:00",
            ),
            (
                "quarta-feira, 16 de setembro de 2022 10:00",
                "2022-09-16T10:00:00+00:00",
            ),
            (
                "gio, 12 mag 2022 10:00:00 +0200",
                "2022-05-12T08:00:00+00:00",
            ),
            (
                "ven, 07 gen 2022 10:00:00 +0100",
                "2022-01-07T09:00:00+00:00",
            ),
            (
                "wo, 16 mrt 2022 10:00:00 +0100",
                "2022-03-16T09:00:00+00:00",
            ),
            (
                "za, 14 mei 2022 10:00:00 +0200",
                "2022-05-14T08:00:00+00:00",
            ),
            (
                "tis, 03 maj 2022 10:00:00 +0200",
                "2022-05-03T08:00:00+00:00",
            ),
            (
                "Κυρ, 11 Ιούλ 2004 12:00:00 EST",
                "2004-07-11T17:00:00+00:00",
            ),
            (
                "śr, 16 lis 2022 10:00:00 +0100",
                "2022-11-16T09:00:00+00:00",
            ),
            // A month first, without a day name, is not dropped as one.
            ("Dec 16 2023 02:02:33 GMT", "2023-12-16T02:02:33+00:00"),
        ] {
            assert_eq!(iso(text), want, "{text}");
        }
        // `jui` is June or July in French: not a month.
        assert_eq!(iso("07 jui 2022 10:00:00 GMT"), "none");
    }

    #[test]
    fn every_month_name_names_its_own_month() {
        for (m, names) in MONTHS.iter().enumerate() {
            for name in *names {
                assert_eq!(month_of(name), Some(m), "{name}");
            }
        }
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
