//! Request heads go round: a dropped request gives its head's box to a
//! per-thread spare, and the next read on the thread passes it to its
//! connection to parse into. Heads are usually dropped on the thread that
//! parsed them, so one spare saves an allocation, a free and the head's
//! initialisation per request.

use pier_proto::{RequestHead, ServerConn};
use std::cell::Cell;

thread_local! {
    /// A request head's box, back from a dropped request, for the next
    /// request any connection of this thread parses.
    static SPARE_HEAD: Cell<Option<Box<RequestHead>>> = const { Cell::new(None) };
}

/// Where a dropped request's head goes (see `IncomingMessage::recycled`).
/// The head is cleared at once: the input buffer its bytes came from can
/// then be reused in place.
pub(super) fn recycle_head(mut head: Box<RequestHead>) {
    head.clear();
    // Some heads move to other threads with their requests and are
    // dropped there; a thread that only drops keeps one spare.
    let _ = SPARE_HEAD.try_with(|spare| spare.set(Some(head)));
}

/// Hands this thread's spare head, if any, to `conn` to parse into.
pub(super) fn give_spare_head(conn: &mut ServerConn) {
    // (`try_with`: a thread tearing down its locals has no spare.)
    if let Some(head) = SPARE_HEAD.try_with(Cell::take).ok().flatten() {
        if let Some(head) = conn.recycle_head(head) {
            let _ = SPARE_HEAD.try_with(|spare| spare.set(Some(head)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use crate::incoming::IncomingMessage;
    use pier_proto::{Event, ServerConfig};

    fn parse(conn: &mut ServerConn, request: &[u8]) -> Box<RequestHead> {
        conn.feed(request);
        match conn.poll_event() {
            Ok(Some(Event::Request(head))) => head,
            other => panic!("a request, not {other:?}"),
        }
    }

    fn address(head: &RequestHead) -> usize {
        head as *const RequestHead as usize
    }

    /// A dropped request's head is the next one parsed on this thread
    /// (cleared, its bytes released); one taken apart is not.
    #[test]
    fn dropped_requests_give_their_head_to_the_next() {
        SPARE_HEAD.with(Cell::take);
        let mut conn = ServerConn::new(ServerConfig::default());
        let head = parse(&mut conn, b"GET /a HTTP/1.1\r\nHost: h\r\nX-One: 1\r\n\r\n");
        let first = address(&head);
        drop(IncomingMessage::recycled(
            head,
            body::Body::empty(),
            None,
            recycle_head,
        ));
        let spare = SPARE_HEAD.with(Cell::take).expect("kept");
        assert_eq!(address(&spare), first);
        assert!(spare.raw().is_empty(), "its bytes are released");
        assert!(spare.headers().is_empty());
        SPARE_HEAD.with(|s| s.set(Some(spare)));

        // Another connection of the thread takes it.
        let mut other = ServerConn::new(ServerConfig::default());
        give_spare_head(&mut other);
        let head = parse(&mut other, b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(address(&head), first);
        assert_eq!(head.target(), b"/b");
        assert_eq!(head.headers().len(), 1);

        // Taken apart: the caller keeps the head.
        let req = IncomingMessage::recycled(head, body::Body::empty(), None, recycle_head);
        let (kept, _body) = req.into_parts();
        assert_eq!(kept.target(), b"/b");
        assert!(SPARE_HEAD.with(Cell::take).is_none());
    }
}
