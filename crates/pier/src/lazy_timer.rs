//! A connection's one timer, re-armed lazily.
//!
//! Deadlines mostly move later (every request pushes them on). Re-arming
//! the runtime's timer each time costs about 2 µs per keep-alive request,
//! so an earlier timer stays armed and is allowed to fire early; only an
//! earlier deadline re-arms it.

use crate::runtime::{Runtime, Timer};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// What a poll of the timer found.
pub(crate) enum Fired {
    /// Woke before the deadline, which had moved on; poll again to arm
    /// for the real one.
    Early,
    /// The deadline passed; `now` is the time it was seen.
    Due(Instant),
}

pub(crate) struct LazyTimer<R: Runtime> {
    timer: Option<R::Timer>,
    armed: Option<Instant>,
    /// The waker the armed timer was last polled with: until the armed
    /// instant it cannot have fired, so polling it again (a few atomic
    /// operations in most runtimes, on every pass of a busy connection)
    /// can wait.
    registered: Option<Waker>,
}

impl<R: Runtime> LazyTimer<R> {
    pub(crate) fn new() -> Self {
        LazyTimer {
            timer: None,
            armed: None,
            registered: None,
        }
    }

    /// Keeps the timer at or before `deadline` and polls it. `None` means
    /// no deadline: nothing to wait for. `now` is the caller's clock read.
    pub(crate) fn poll(
        &mut self,
        rt: &R,
        cx: &mut Context<'_>,
        deadline: Option<Instant>,
        now: Instant,
    ) -> Poll<Fired> {
        let Some(deadline) = deadline else {
            self.armed = None;
            return Poll::Pending;
        };
        if self.armed.is_none_or(|armed| deadline < armed) {
            match &mut self.timer {
                Some(t) => t.reset(deadline),
                None => self.timer = Some(rt.timer(deadline)),
            }
            self.armed = Some(deadline);
            self.registered = None;
        }
        let armed = self.armed.expect("armed above");
        if now < armed
            && self
                .registered
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        let timer = self.timer.as_mut().expect("armed above");
        if Pin::new(timer).poll(cx).is_pending() {
            if self
                .registered
                .as_ref()
                .is_none_or(|w| !w.will_wake(cx.waker()))
            {
                self.registered = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        self.registered = None;
        self.armed = None;
        let now = rt.now();
        Poll::Ready(if deadline > now {
            Fired::Early
        } else {
            Fired::Due(now)
        })
    }
}
