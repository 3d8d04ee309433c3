//! Request handlers as the server keeps them: type-erased, with the
//! storage of the futures they return reused from one request to the next.
//!
//! A handler returns a future of its own type. Boxing each one cost an
//! allocation and a free per request; instead a connection keeps the box
//! of a finished future and the next request's future is moved into it.
//! Everything here is safe code: a slot is an `Option<Fut>` pinned in its
//! box, filled with `Pin::set` and emptied in place when the future ends.

use super::ServerResponse;
use crate::incoming::IncomingMessage;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The storage of one handler future.
pub(crate) trait FutureSlot: Send {
    /// Moves the future held in `fresh` (an `Option` of this slot's own
    /// future type) into the slot; `false`, with `fresh` untouched, when
    /// `fresh` is of another type.
    fn refill(self: Pin<&mut Self>, fresh: &mut dyn Any) -> bool;

    /// Polls the future; once it is done it is dropped in place, and the
    /// slot is empty until refilled.
    fn poll_slot(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
}

impl<Fut: Future<Output = ()> + Send + 'static> FutureSlot for Option<Fut> {
    fn refill(mut self: Pin<&mut Self>, fresh: &mut dyn Any) -> bool {
        match fresh.downcast_mut::<Option<Fut>>() {
            Some(fut) => {
                self.set(fut.take());
                true
            }
            None => false,
        }
    }

    fn poll_slot(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(fut) = self.as_mut().as_pin_mut() else {
            return Poll::Ready(());
        };
        let polled = fut.poll(cx);
        if polled.is_ready() {
            // Dropped now, as a finished future would be: a response it
            // never ended turns into its 500 at this point.
            self.set(None);
        }
        polled
    }
}

/// A running (or finished, empty) handler future in its box.
pub(crate) type HandlerTask = Pin<Box<dyn FutureSlot>>;

/// A request handler as the server stores it: called with the request, its
/// response and the connection's spare slot (taken when it fits).
pub(crate) type RequestFn =
    dyn Fn(IncomingMessage, ServerResponse, &mut Option<HandlerTask>) -> HandlerTask + Send + Sync;

/// Slots larger than this are not kept between requests: an idle
/// connection should not hold a large future's storage.
const KEPT_SLOT_MAX: usize = 1024;

/// Erases a handler's type.
pub(crate) fn erase<F, Fut>(handler: F) -> Arc<RequestFn>
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |req, res, spare| {
        let mut fresh = Some(handler(req, res));
        if let Some(slot) = spare {
            if slot.as_mut().refill(&mut fresh) {
                return spare.take().expect("just used");
            }
            // Another handler's: left for that one.
        }
        Box::pin(fresh)
    })
}

/// Keeps a finished task's slot as the spare, if there is none yet and it
/// is small enough.
pub(crate) fn keep_spare(spare: &mut Option<HandlerTask>, done: HandlerTask) {
    if spare.is_none() && std::mem::size_of_val(&*done) <= KEPT_SLOT_MAX {
        *spare = Some(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(task: &mut HandlerTask) -> Poll<()> {
        task.as_mut()
            .poll_slot(&mut Context::from_waker(Waker::noop()))
    }

    fn request() -> (IncomingMessage, ServerResponse) {
        let shared = super::super::shared::Shared::new(
            pier_proto::ServerConn::new(pier_proto::ServerConfig::default()),
            None,
            1 << 14,
            0,
            false,
        );
        let req = IncomingMessage::new(Box::default(), crate::body::Body::empty(), None);
        let res = ServerResponse::new(Arc::new(std::sync::Mutex::new(shared)), 0);
        (req, res)
    }

    fn address(task: &HandlerTask) -> *const u8 {
        &**task as *const dyn FutureSlot as *const u8
    }

    /// A finished future's box takes the next future of its handler; a
    /// handler of another type gets a box of its own and leaves the spare
    /// to the first.
    #[test]
    fn slots_are_reused_for_futures_of_their_type() {
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = runs.clone();
        let counting = erase(move |_req, _res| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let other = erase(|_req, _res| async {});
        let mut spare = None;

        let (req, res) = request();
        let mut first = counting(req, res, &mut spare);
        assert_eq!(poll(&mut first), Poll::Ready(()));
        // Empty now: polling again does nothing.
        assert_eq!(poll(&mut first), Poll::Ready(()));
        let at = address(&first);
        keep_spare(&mut spare, first);

        let (req, res) = request();
        let mut elsewhere = other(req, res, &mut spare);
        assert_ne!(address(&elsewhere), at);
        assert!(spare.is_some(), "the spare is left to its own handler");
        assert_eq!(poll(&mut elsewhere), Poll::Ready(()));

        let (req, res) = request();
        let mut second = counting(req, res, &mut spare);
        assert!(spare.is_none(), "taken");
        assert_eq!(address(&second), at, "the same box");
        assert_eq!(poll(&mut second), Poll::Ready(()));
        assert_eq!(runs.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    /// A large future's slot is not kept.
    #[test]
    fn large_slots_are_not_kept() {
        let big = async {
            let buf = [0u8; 4096];
            std::future::ready(()).await;
            std::hint::black_box(&buf);
        };
        let mut spare = None;
        keep_spare(&mut spare, Box::pin(Some(big)));
        assert!(spare.is_none());
    }
}
