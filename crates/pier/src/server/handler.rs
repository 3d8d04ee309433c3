//! Request handlers as the server keeps them: type-erased, with the
//! storage of the futures they return reused from one request to the next.
//!
//! A handler returns a future of its own type. Boxing each one cost an
//! allocation and a free per request; instead each thread keeps the box of
//! a finished future (one per handler type) and the next future of that
//! type, on any connection of the thread, is moved into it. Kept per
//! thread, not per connection, that storage stays in the cache and an idle
//! connection holds none.
//! Everything here is safe code: a slot is an `Option<Fut>` pinned in its
//! box, filled with `Pin::set` and emptied in place when the future ends.

use super::ServerResponse;
use crate::incoming::IncomingMessage;
use std::any::{Any, TypeId};
use std::cell::RefCell;
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

    /// The type of future the slot holds.
    fn future_type(&self) -> TypeId;
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

    fn future_type(&self) -> TypeId {
        TypeId::of::<Fut>()
    }
}

/// A running (or finished, empty) handler future in its box.
pub(crate) type HandlerTask = Pin<Box<dyn FutureSlot>>;

/// A request handler as the server stores it: called with the request and
/// its response; the future it returns is boxed in a kept slot when one of
/// its type is free.
pub(crate) type RequestFn = dyn Fn(IncomingMessage, ServerResponse) -> HandlerTask + Send + Sync;

/// Slots larger than this are not kept between requests.
const KEPT_SLOT_MAX: usize = 1024;

/// Handler types a thread keeps a slot for (a server has up to three
/// handlers; a few servers may share a thread).
const KEPT_TYPES: usize = 4;

/// The finished futures' slots a thread keeps: at most one per type.
struct Spares {
    /// Each with the type of future it holds.
    slots: [Option<(TypeId, HandlerTask)>; KEPT_TYPES],
    /// The slot a new type replaces when all are taken.
    next_evicted: usize,
}

impl Spares {
    /// A kept slot for futures of type `kind`, with the future in `fresh`
    /// (an `Option` of that type) moved in.
    fn refill(&mut self, kind: TypeId, fresh: &mut dyn Any) -> Option<HandlerTask> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|(k, _)| *k == kind))?;
        let (_, mut task) = slot.take()?;
        let filled = task.as_mut().refill(fresh);
        debug_assert!(filled, "a slot of the future's own type");
        filled.then_some(task)
    }

    /// Keeps a finished future's slot, unless one of its type is kept.
    fn keep(&mut self, done: HandlerTask) {
        if std::mem::size_of_val(&*done) > KEPT_SLOT_MAX {
            return;
        }
        let kind = done.future_type();
        if self.slots.iter().flatten().any(|(k, _)| *k == kind) {
            return;
        }
        let free = self.slots.iter().position(Option::is_none);
        let at = free.unwrap_or_else(|| {
            let at = self.next_evicted;
            self.next_evicted = (at + 1) % KEPT_TYPES;
            at
        });
        self.slots[at] = Some((kind, done));
    }
}

thread_local! {
    static SPARES: RefCell<Spares> = const {
        RefCell::new(Spares {
            slots: [const { None }; KEPT_TYPES],
            next_evicted: 0,
        })
    };
}

/// Erases a handler's type.
pub(crate) fn erase<F, Fut>(handler: F) -> Arc<RequestFn>
where
    F: Fn(IncomingMessage, ServerResponse) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |req, res| {
        let mut fresh = Some(handler(req, res));
        // Only safe code runs under the borrow: a kept slot is empty, and
        // refilling it drops nothing of the user's.
        let kind = TypeId::of::<Fut>();
        let kept = SPARES
            .try_with(|spares| spares.borrow_mut().refill(kind, &mut fresh))
            .ok()
            .flatten();
        kept.unwrap_or_else(|| Box::pin(fresh))
    })
}

/// Keeps a finished task's slot for the next future of its type on this
/// thread.
pub(crate) fn keep_spare(done: HandlerTask) {
    // Dropping an unkept slot runs nothing of the user's either: the
    // future in it has ended.
    let _ = SPARES.try_with(|spares| spares.borrow_mut().keep(done));
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

    /// Takes this thread's kept slots (tests run on threads of their own,
    /// but start from a clean slate anyway).
    fn kept() -> Vec<*const u8> {
        SPARES.with(|s| {
            s.borrow()
                .slots
                .iter()
                .flatten()
                .map(|(_, task)| address(task))
                .collect()
        })
    }

    fn forget_kept() {
        SPARES.with(|s| {
            let mut s = s.borrow_mut();
            s.slots = [const { None }; KEPT_TYPES];
            s.next_evicted = 0;
        });
    }

    /// A finished future's box takes the next future of its handler, on
    /// any connection of the thread; a handler of another type gets a box
    /// of its own, and both are kept after.
    #[test]
    fn slots_are_reused_for_futures_of_their_type() {
        forget_kept();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = runs.clone();
        let counting = erase(move |_req, _res| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let other = erase(|_req, _res| async {});

        let (req, res) = request();
        let mut first = counting(req, res);
        assert_eq!(poll(&mut first), Poll::Ready(()));
        // Empty now: polling again does nothing.
        assert_eq!(poll(&mut first), Poll::Ready(()));
        let at = address(&first);
        keep_spare(first);
        assert_eq!(kept(), [at]);

        let (req, res) = request();
        let mut elsewhere = other(req, res);
        assert_ne!(address(&elsewhere), at);
        assert_eq!(kept(), [at], "the slot is left to its own handler");
        assert_eq!(poll(&mut elsewhere), Poll::Ready(()));
        let other_at = address(&elsewhere);
        keep_spare(elsewhere);
        assert_eq!(kept(), [at, other_at]);

        let (req, res) = request();
        let mut second = counting(req, res);
        assert_eq!(address(&second), at, "the same box");
        assert_eq!(kept(), [other_at], "taken");
        assert_eq!(poll(&mut second), Poll::Ready(()));
        assert_eq!(runs.load(std::sync::atomic::Ordering::Relaxed), 2);

        // One slot per type: a second finished future of a kept type is
        // freed, not kept.
        let (req, res) = request();
        let mut third = counting(req, res);
        assert_eq!(poll(&mut third), Poll::Ready(()));
        keep_spare(second);
        keep_spare(third);
        assert_eq!(kept().len(), 2);
    }

    /// With every kept slot taken by another type, a new type replaces
    /// them in turn.
    #[test]
    fn new_types_replace_kept_slots_in_turn() {
        forget_kept();
        fn finished<F: Future<Output = ()> + Send + 'static>(f: F) -> HandlerTask {
            let mut task: HandlerTask = Box::pin(Some(f));
            assert_eq!(poll(&mut task), Poll::Ready(()));
            task
        }
        let boxes = [
            finished(async {}),
            finished(async { std::future::ready(()).await }),
            finished(async {
                std::future::ready(1).await;
            }),
            finished(async {
                std::future::ready(2u8).await;
            }),
            finished(async {
                std::future::ready("x").await;
            }),
        ];
        let addresses: Vec<_> = boxes.iter().map(address).collect();
        for b in boxes {
            keep_spare(b);
        }
        let mut now = kept();
        now.sort();
        let mut want = vec![addresses[4], addresses[1], addresses[2], addresses[3]];
        want.sort();
        assert_eq!(now, want, "the fifth type replaced the first kept");
    }

    /// A large future's slot is not kept.
    #[test]
    fn large_slots_are_not_kept() {
        forget_kept();
        let big = async {
            let buf = [0u8; 4096];
            std::future::ready(()).await;
            std::hint::black_box(&buf);
        };
        keep_spare(Box::pin(Some(big)));
        assert!(kept().is_empty());
    }
}
