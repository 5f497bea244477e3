//! When digests go out: `hourly` (at the top of each hour) or `daily HH:MM`, in the sink's time
//! zone: `local` (the system's), `UTC`, a fixed offset such as `+02:00`, or a tz database name
//! such as `Europe/Paris` (read from the system's tz database, `/usr/share/zoneinfo`, so it
//! follows the distribution's tzdata updates). Named and local zones keep their daylight saving
//! rules: "daily 08:00" in Paris is 07:00 UTC in winter and 06:00 UTC in summer. Pure: the
//! current time is an argument, so the schedule is tested by moving it, not by waiting.

use chrono::{DateTime, FixedOffset, NaiveTime, Timelike, Utc};
use jiff::tz::{Offset, TimeZone};

/// A sink's (or a topic's) digest schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Hourly,
    Daily { hour: u32, minute: u32 },
}

/// Where "08:00" is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// The system's zone (`TZ`, `/etc/localtime`), daylight saving time included.
    Local,
    Fixed(FixedOffset),
    /// A tz database zone, by its name (`Europe/Paris`), read once at config load.
    Named(TimeZone),
}

/// `"hourly"` or `"daily HH:MM"`.
pub fn parse_schedule(s: &str) -> Result<Schedule, String> {
    let t = s.trim();
    if t == "hourly" {
        return Ok(Schedule::Hourly);
    }
    let at = t.strip_prefix("daily").map(str::trim).unwrap_or("");
    match NaiveTime::parse_from_str(at, "%H:%M") {
        Ok(time) if t.starts_with("daily") => Ok(Schedule::Daily {
            hour: time.hour(),
            minute: time.minute(),
        }),
        _ => Err(format!(
            "\"{s}\" is not a digest schedule; expected \"hourly\" or \"daily HH:MM\" (e.g. \"daily 08:00\")"
        )),
    }
}

/// `"local"`, `"UTC"`, an offset `"+02:00"` / `"-05:30"`, or a tz database name
/// (`"Europe/Paris"`, `"America/New_York"`).
pub fn parse_zone(s: &str) -> Result<Zone, String> {
    let t = s.trim();
    match t {
        "local" => return Ok(Zone::Local),
        "UTC" | "utc" | "Z" => return Ok(Zone::Fixed(utc())),
        _ => {}
    }
    if t.starts_with(['+', '-']) {
        return t.parse::<FixedOffset>().map(Zone::Fixed).map_err(|_| {
            format!("\"{s}\" is not a UTC offset; expected e.g. \"+02:00\" or \"-05:30\"")
        });
    }
    // A name is looked up in the system's tz database only if it looks like one: no path
    // tricks (`../`), which the database would refuse anyway.
    let plausible = !t.is_empty()
        && !t.contains("..")
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    match plausible.then(|| TimeZone::get(t)) {
        Some(Ok(tz)) => Ok(Zone::Named(tz)),
        _ => Err(format!(
            "\"{s}\" is not a time zone; expected \"local\", \"UTC\", an offset such as \"+02:00\" or a tz database name such as \"Europe/Paris\" (looked up in the system's tz database, /usr/share/zoneinfo; the tzdata package)"
        )),
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero is a valid offset")
}

impl Zone {
    fn tz(&self) -> TimeZone {
        match self {
            Zone::Local => TimeZone::system(),
            Zone::Fixed(off) => Offset::from_seconds(off.local_minus_utc())
                .map(TimeZone::fixed)
                .unwrap_or(TimeZone::UTC),
            Zone::Named(tz) => tz.clone(),
        }
    }
}

fn to_jiff(t: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::new(t.timestamp(), t.timestamp_subsec_nanos() as i32)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn from_jiff(t: jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.as_second(), t.subsec_nanosecond().max(0) as u32).unwrap_or_default()
}

/// The first digest time strictly after `after`.
pub fn next_run(schedule: Schedule, zone: &Zone, after: DateTime<Utc>) -> DateTime<Utc> {
    let tz = zone.tz();
    let now = to_jiff(after);
    match schedule {
        Schedule::Hourly => {
            // The top of the local hour: the offset at `after` says where it is (a half-hour
            // zone's hours start at :30 UTC).
            let offset = i64::from(tz.to_offset(now).seconds());
            let into_hour = (now.as_second() + offset).rem_euclid(3600);
            let top = now.as_second() - into_hour + 3600;
            DateTime::from_timestamp(top, 0).unwrap_or(after + chrono::Duration::hours(1))
        }
        Schedule::Daily { hour, minute } => {
            let mut day = now.to_zoned(tz.clone()).date();
            // Today's time if still ahead, else tomorrow's. A time a DST change skips (02:30 on
            // the spring-forward night) is taken as after the gap (03:30), and one it repeats
            // (the autumn night) as the first of the two: "compatible", as RFC 5545 and
            // Temporal do, so no day goes without its digest and none has two.
            for _ in 0..3 {
                let civil = day.at(hour as i8, minute as i8, 0, 0);
                if let Ok(at) = tz.to_ambiguous_timestamp(civil).compatible()
                    && at > now
                {
                    return from_jiff(at);
                }
                match day.tomorrow() {
                    Ok(d) => day = d,
                    Err(_) => break,
                }
            }
            after + chrono::Duration::days(1)
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn schedules_and_zones_parse() {
        assert_eq!(parse_schedule("hourly"), Ok(Schedule::Hourly));
        assert_eq!(
            parse_schedule("daily 08:00"),
            Ok(Schedule::Daily { hour: 8, minute: 0 })
        );
        assert!(parse_schedule("daily 25:00").is_err());
        assert!(parse_schedule("weekly").is_err());
        assert_eq!(parse_zone("local"), Ok(Zone::Local));
        assert_eq!(
            parse_zone("+02:00"),
            Ok(Zone::Fixed(FixedOffset::east_opt(7200).unwrap()))
        );
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("../../etc/passwd").is_err());
        assert!(parse_zone("+25:00").is_err());
        assert!(matches!(parse_zone("Europe/Paris"), Ok(Zone::Named(_))));
    }

    #[test]
    fn hourly_digests_go_at_the_top_of_the_next_hour() {
        let z = parse_zone("UTC").unwrap();
        assert_eq!(
            next_run(Schedule::Hourly, &z, at("2026-12-07T10:17:42Z")),
            at("2026-12-07T11:00:00Z")
        );
        // Exactly on the hour: the next one.
        assert_eq!(
            next_run(Schedule::Hourly, &z, at("2026-12-07T11:00:00Z")),
            at("2026-12-07T12:00:00Z")
        );
        // A half-hour zone's hours start at :30 UTC.
        let india = parse_zone("+05:30").unwrap();
        assert_eq!(
            next_run(Schedule::Hourly, &india, at("2026-12-07T10:17:00Z")),
            at("2026-12-07T10:30:00Z")
        );
    }

    #[test]
    fn daily_digests_go_at_their_local_time_today_or_tomorrow() {
        let paris = parse_zone("+01:00").unwrap();
        let eight = Schedule::Daily { hour: 8, minute: 0 };
        // 06:30 in Paris: today at 08:00 Paris, 07:00 UTC.
        assert_eq!(
            next_run(eight, &paris, at("2026-12-07T05:30:00Z")),
            at("2026-12-07T07:00:00Z")
        );
        // 08:00 in Paris has passed: tomorrow.
        assert_eq!(
            next_run(eight, &paris, at("2026-12-07T07:00:00Z")),
            at("2026-12-08T07:00:00Z")
        );
        // Days of time travel: always the next 08:00.
        let mut t = at("2026-12-07T05:30:00Z");
        for day in 7..14 {
            t = next_run(eight, &paris, t);
            assert_eq!(t, at(&format!("2026-12-{day:02}T07:00:00Z")));
        }
    }

    /// Time travel across both of 2026's DST changes in Paris (29 March, 25 October): the
    /// clock is moved from digest to digest, as the worker does, never slept.
    #[test]
    fn a_named_zone_keeps_its_local_time_across_daylight_saving_changes() {
        let paris = parse_zone("Europe/Paris").unwrap();
        let eight = Schedule::Daily { hour: 8, minute: 0 };
        let mut t = at("2026-03-27T12:00:00Z");
        let mut got = Vec::new();
        for _ in 0..4 {
            t = next_run(eight, &paris, t);
            got.push(t);
        }
        // 08:00 CET is 07:00 UTC; from the 29th, 08:00 CEST is 06:00 UTC.
        assert_eq!(
            got,
            [
                at("2026-03-28T07:00:00Z"),
                at("2026-03-29T06:00:00Z"),
                at("2026-03-30T06:00:00Z"),
                at("2026-03-31T06:00:00Z"),
            ]
        );
        let mut t = at("2026-10-23T12:00:00Z");
        let mut got = Vec::new();
        for _ in 0..3 {
            t = next_run(eight, &paris, t);
            got.push(t);
        }
        assert_eq!(
            got,
            [
                at("2026-10-24T06:00:00Z"),
                at("2026-10-25T07:00:00Z"),
                at("2026-10-26T07:00:00Z"),
            ]
        );
        // 02:30 does not exist on 29 March: that day's digest goes right after the gap
        // (03:30 CEST, 01:30 UTC), and the next day's at 02:30 again.
        let half_two = Schedule::Daily {
            hour: 2,
            minute: 30,
        };
        let first = next_run(half_two, &paris, at("2026-03-28T12:00:00Z"));
        assert_eq!(first, at("2026-03-29T01:30:00Z"));
        assert_eq!(
            next_run(half_two, &paris, first),
            at("2026-03-30T00:30:00Z")
        );
        // 02:30 happens twice on 25 October: one digest, at the first (CEST, 00:30 UTC).
        let first = next_run(half_two, &paris, at("2026-10-24T12:00:00Z"));
        assert_eq!(first, at("2026-10-25T00:30:00Z"));
        assert_eq!(
            next_run(half_two, &paris, first),
            at("2026-10-26T01:30:00Z")
        );
        // Hourly through the autumn change: every UTC hour, the repeated hour included.
        let mut t = at("2026-10-24T23:10:00Z");
        let mut hours = Vec::new();
        for _ in 0..3 {
            t = next_run(Schedule::Hourly, &paris, t);
            hours.push(t);
        }
        assert_eq!(
            hours,
            [
                at("2026-10-25T00:00:00Z"),
                at("2026-10-25T01:00:00Z"),
                at("2026-10-25T02:00:00Z"),
            ]
        );
    }
}
