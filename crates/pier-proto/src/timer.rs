//! Deadlines anchored at the `now` the runtime passes in.
//!
//! Inputs (`feed`, commands) carry no time. A phase that starts during an
//! input is marked `Pending` and anchored at the next `poll_timeout(now)` or
//! `handle_timeout(now)`, which the drive loop calls right after every input.

use core::time::Duration;
use std::time::Instant;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Deadline {
    #[default]
    Off,
    Pending(Duration),
    At(Instant),
}

impl Deadline {
    pub(crate) fn start(limit: Option<Duration>) -> Deadline {
        limit.map_or(Deadline::Off, Deadline::Pending)
    }

    pub(crate) fn anchor(&mut self, now: Instant) {
        if let Deadline::Pending(d) = *self {
            *self = now.checked_add(d).map_or(Deadline::Off, Deadline::At);
        }
    }

    pub(crate) fn at(&self) -> Option<Instant> {
        match *self {
            Deadline::At(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.at().is_some_and(|t| t <= now)
    }

    pub(crate) fn is_on(&self) -> bool {
        *self != Deadline::Off
    }
}

/// The earliest of some deadlines.
pub(crate) fn earliest(ds: &[Deadline]) -> Option<Instant> {
    ds.iter().filter_map(Deadline::at).min()
}
