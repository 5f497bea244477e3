//! When digests go out: `hourly` (at the top of each hour) or `daily HH:MM`, in the sink's time
//! zone (`local`, `UTC` or a fixed offset such as `+02:00`). Pure: the current time is an
//! argument, so the schedule is tested by moving it, not by waiting.

use chrono::{DateTime, Duration, FixedOffset, Local, NaiveTime, TimeZone, Timelike, Utc};

/// A sink's digest schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Hourly,
    Daily { hour: u32, minute: u32 },
}

/// Where "08:00" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The system's zone (`TZ`, `/etc/localtime`), daylight saving time included.
    Local,
    Fixed(FixedOffset),
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

/// `"local"`, `"UTC"`, or an offset `"+02:00"` / `"-05:30"`.
pub fn parse_zone(s: &str) -> Result<Zone, String> {
    match s.trim() {
        "local" => Ok(Zone::Local),
        "UTC" | "utc" | "Z" => Ok(Zone::Fixed(FixedOffset::east_opt(0).unwrap_or(utc()))),
        other => other
            .parse::<FixedOffset>()
            .map(Zone::Fixed)
            .map_err(|_| format!("\"{s}\" is not a time zone; expected \"local\", \"UTC\" or an offset such as \"+02:00\"")),
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero is a valid offset")
}

/// The first digest time strictly after `after`.
pub fn next_run(schedule: Schedule, zone: Zone, after: DateTime<Utc>) -> DateTime<Utc> {
    match zone {
        Zone::Local => next_in(schedule, &Local, after),
        Zone::Fixed(off) => next_in(schedule, &off, after),
    }
}

fn next_in<Tz: TimeZone>(schedule: Schedule, tz: &Tz, after: DateTime<Utc>) -> DateTime<Utc> {
    let local = after.with_timezone(tz);
    match schedule {
        Schedule::Hourly => {
            let top = after
                - Duration::seconds(local.minute() as i64 * 60 + local.second() as i64)
                - Duration::nanoseconds(local.nanosecond() as i64);
            top + Duration::hours(1)
        }
        Schedule::Daily { hour, minute } => {
            let mut day = local.date_naive();
            // Today's time if still ahead, else tomorrow's; a time skipped by a DST change
            // (02:30 on the spring-forward night) falls to the next day that has it.
            for _ in 0..4 {
                let Some(naive) = day.and_hms_opt(hour, minute, 0) else {
                    break;
                };
                if let Some(at) = tz.from_local_datetime(&naive).earliest() {
                    let at = at.with_timezone(&Utc);
                    if at > after {
                        return at;
                    }
                }
                day = day.succ_opt().unwrap_or(day);
            }
            after + Duration::days(1)
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
    }

    #[test]
    fn hourly_digests_go_at_the_top_of_the_next_hour() {
        let z = parse_zone("UTC").unwrap();
        assert_eq!(
            next_run(Schedule::Hourly, z, at("2026-12-07T10:17:42Z")),
            at("2026-12-07T11:00:00Z")
        );
        // Exactly on the hour: the next one.
        assert_eq!(
            next_run(Schedule::Hourly, z, at("2026-12-07T11:00:00Z")),
            at("2026-12-07T12:00:00Z")
        );
        // A half-hour zone's hours start at :30 UTC.
        let india = parse_zone("+05:30").unwrap();
        assert_eq!(
            next_run(Schedule::Hourly, india, at("2026-12-07T10:17:00Z")),
            at("2026-12-07T10:30:00Z")
        );
    }

    #[test]
    fn daily_digests_go_at_their_local_time_today_or_tomorrow() {
        let paris = parse_zone("+01:00").unwrap();
        let eight = Schedule::Daily { hour: 8, minute: 0 };
        // 06:30 in Paris: today at 08:00 Paris, 07:00 UTC.
        assert_eq!(
            next_run(eight, paris, at("2026-12-07T05:30:00Z")),
            at("2026-12-07T07:00:00Z")
        );
        // 08:00 in Paris has passed: tomorrow.
        assert_eq!(
            next_run(eight, paris, at("2026-12-07T07:00:00Z")),
            at("2026-12-08T07:00:00Z")
        );
        // Days of time travel: always the next 08:00.
        let mut t = at("2026-12-07T05:30:00Z");
        for day in 7..14 {
            t = next_run(eight, paris, t);
            assert_eq!(t, at(&format!("2026-12-{day:02}T07:00:00Z")));
        }
    }
}
