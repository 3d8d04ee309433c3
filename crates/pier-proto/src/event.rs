//! What a connection reports, in order.

use crate::headers::Trailers;
use crate::message::{RequestHead, ResponseHead};
use bytes::Bytes;

/// One step of an incoming message stream (h11's vocabulary). Heads and
/// trailers are boxed (trailers only when there are any) so that every
/// event, the frequent `Data` above all, stays small to move.
#[derive(Clone, Debug)]
pub enum Event {
    /// A request head (server side). Its body follows as `Data`, then `End`.
    Request(Box<RequestHead>),
    /// A final response head, or 101 (client side). Body and `End` follow,
    /// or `Upgrade` for 101 and for 2xx answers to CONNECT.
    Response(Box<ResponseHead>),
    /// An interim 1xx response other than 101 (client side): `100 Continue`,
    /// `102`, `103 Early Hints`, … More heads follow.
    Informational(Box<ResponseHead>),
    /// A piece of body, shared with the input buffer (never copied).
    Data(Bytes),
    /// The message is complete; its trailers (empty unless chunked with trailers).
    End(Trailers),
    /// The connection now belongs to another protocol (upgrade or CONNECT
    /// tunnel). These are the bytes already received after the head (Node's
    /// `head` buffer). Bytes fed after the hand-off come out as further
    /// `Upgrade` events, unparsed.
    Upgrade(Bytes),
    /// The peer finished sending (EOF between messages). Responses still
    /// owed may be written; then close.
    Closed,
    /// The keep-alive idle period ran out with no new request (server
    /// side): close the connection without a response.
    KeepAliveTimeout,
}

#[cfg(test)]
mod tests {
    /// Every event is moved through several returns on its way out; keep
    /// it to a few words (heads and non-empty trailers live on the heap).
    #[test]
    fn events_stay_small_to_move() {
        assert!(std::mem::size_of::<super::Event>() <= 40);
    }
}
