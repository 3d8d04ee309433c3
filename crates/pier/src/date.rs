//! The `Date` header (IMF-fixdate), formatted at most once a second.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

thread_local! {
    // One cache per thread: no lock on every response.
    static CACHE: Cell<(u64, [u8; LINE_LEN])> = const { Cell::new((u64::MAX, [0; LINE_LEN])) };
    /// The instant a connection's turn started with, while it runs.
    static TURN: Cell<Option<Instant>> = const { Cell::new(None) };
    /// Until when (on the monotonic clock) the cached text is right.
    static VALID_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// While alive, responses on this thread date themselves from `now`, the
/// instant their driver read when it woke up: one clock read serves the
/// whole turn instead of one more per response.
pub(crate) struct Turn(Option<Instant>);

impl Turn {
    pub(crate) fn enter(now: Instant) -> Turn {
        Turn(TURN.with(|t| t.replace(Some(now))))
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        TURN.with(|t| t.set(self.0));
    }
}

/// The length of a `Date` field line.
pub(crate) const LINE_LEN: usize = 37;

/// `Sun, 06 Nov 1994 08:49:37 GMT` for now.
#[cfg(test)]
pub(crate) fn http_date() -> [u8; 29] {
    let line = http_date_line();
    line[6..35].try_into().expect("29 bytes")
}

/// `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n` for now: kept as the whole
/// line, so that a response copies it in one go.
pub(crate) fn http_date_line() -> [u8; LINE_LEN] {
    let turn = TURN.with(Cell::get);
    if let Some(now) = turn {
        if VALID_UNTIL.with(Cell::get).is_some_and(|until| now < until) {
            return CACHE.with(Cell::get).1;
        }
    }
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since_epoch.as_secs();
    // Right until the next second starts.
    let left = Duration::from_secs(1) - Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
    VALID_UNTIL.with(|v| v.set(turn.map(|now| now + left)));
    CACHE.with(|cache| {
        let (cached, text) = cache.get();
        if cached == secs {
            return text;
        }
        let mut line = *b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
        line[6..35].copy_from_slice(&format(secs));
        cache.set((secs, line));
        line
    })
}

/// Formats seconds since the Unix epoch.
pub(crate) fn format(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    out[5..7].copy_from_slice(&two(day as u64));
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let y = year as u64;
    out[12..16].copy_from_slice(&[
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
    ]);
    out[17..19].copy_from_slice(&two(h));
    out[20..22].copy_from_slice(&two(m));
    out[23..25].copy_from_slice(&two(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    /// Whether `text` is the date of one of the seconds `from..=to`.
    fn within(text: [u8; 29], from: u64, to: u64) -> bool {
        (from..=to).any(|s| format(s) == text)
    }

    #[test]
    fn dates_are_current_inside_and_outside_a_turn() {
        let before = wall_secs();
        let outside = http_date();
        let turn_start = Instant::now();
        {
            let _turn = Turn::enter(turn_start);
            assert!(within(http_date(), before, wall_secs()));
            // Cached for the rest of the second: the same text again.
            assert_eq!(http_date(), http_date());
            let line = http_date_line();
            assert!(line.starts_with(b"Date: ") && line.ends_with(b"\r\n"));
            assert!(within(line[6..35].try_into().unwrap(), before, wall_secs()));
        }
        {
            // A turn that starts past the cached second reads the clock again.
            let _turn = Turn::enter(turn_start + Duration::from_secs(2));
            assert!(within(http_date(), before, wall_secs()));
        }
        assert!(within(outside, before, wall_secs()));
        assert!(
            TURN.with(Cell::get).is_none(),
            "the turn ended with its guard"
        );
    }

    #[test]
    fn known_dates() {
        assert_eq!(&format(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format(1_795_740_000), b"Fri, 27 Nov 2026 00:40:00 GMT");
    }
}
