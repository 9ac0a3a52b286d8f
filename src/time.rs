//! UTC time as integer nanoseconds since the Unix epoch (SPEC §6.2, field 5). chrono is used only
//! to display and parse it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

/// A UTC instant: nanoseconds since 1970-01-01T00:00:00Z, without leap seconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time from the system clock (0 if the clock is before 1970).
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// The instant as a chrono value, for display.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(i64::try_from(self.0).unwrap_or(i64::MAX))
    }

    /// RFC 3339 with the precision the value needs, always in UTC (`Z`).
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// RFC 3339 to the minute, as in commit-message traces: `2026-03-14T10:22Z`.
    pub fn to_minute(self) -> String {
        self.to_datetime().format("%Y-%m-%dT%H:%MZ").to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.to_rfc3339())
    }
}

/// A time string that is not RFC 3339, or is before 1970 or after 2554.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 time between 1970 and 2554: {0}")]
pub struct ParseTimeError(pub String);

impl FromStr for Timestamp {
    type Err = ParseTimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let dt = DateTime::parse_from_rfc3339(s).map_err(|e| ParseTimeError(e.to_string()))?;
        let n = dt
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| ParseTimeError(s.to_owned()))?;
        Ok(Timestamp(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let t = Timestamp(1_773_483_720_123_456_789);
        let s = t.to_string();
        assert_eq!(s, "2026-03-14T10:22:00.123456789Z");
        assert_eq!(s.parse::<Timestamp>().unwrap(), t);
        assert_eq!(t.to_minute(), "2026-03-14T10:22Z");
    }
}
