//! `ServerResponse`: Node's response object, written into the connection
//! in request order whatever order handlers finish in.

use super::shared::{lock, Cmd, HeadRef, SharedRef, WriteError};
use crate::outgoing::OutgoingHeaders;
use bytes::Bytes;
use pier_proto::{validate_field, BodyHint, LocalError};
use smallvec::SmallVec;
use std::future::poll_fn;
use std::task::Poll;

/// The response to one request (Node's `http.ServerResponse`).
///
/// Set the status and headers, then `write` and `end`. Headers go out with
/// the first `write` (chunked for HTTP/1.1 peers when the length is not
/// known), or with `end` (with `Content-Length`). Dropping a response that
/// was not ended finishes it: with 500 if nothing was sent yet, otherwise
/// by closing the connection, so a peer never mistakes a cut body for a
/// whole one.
#[derive(Debug)]
pub struct ServerResponse {
    shared: SharedRef,
    id: u64,
    /// The status code to send (Node's `statusCode`), 200 by default.
    pub status_code: u16,
    /// The reason phrase (Node's `statusMessage`); empty uses the standard one.
    pub status_message: String,
    headers: OutgoingHeaders,
    /// Whether to add a `Date` header (Node's `sendDate`): on.
    pub send_date: bool,
    headers_sent: bool,
    finished: bool,
    trailers: Vec<(String, Vec<u8>)>,
}

impl ServerResponse {
    pub(crate) fn new(shared: SharedRef, id: u64) -> Self {
        ServerResponse {
            shared,
            id,
            status_code: 200,
            status_message: String::new(),
            headers: OutgoingHeaders::new(),
            send_date: true,
            headers_sent: false,
            finished: false,
            trailers: Vec::new(),
        }
    }

    /// Sets a header (Node's `setHeader`). Refuses invalid names and values
    /// (CR, LF, NUL, …) at once, and any change after the head was sent.
    pub fn set_header(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), WriteError> {
        let value = value.as_ref();
        self.check_field(name, value)?;
        self.headers.set(name, value);
        Ok(())
    }

    /// Sets a header to several values, one line each.
    pub fn set_header_values<V: AsRef<[u8]>>(
        &mut self,
        name: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Result<(), WriteError> {
        let values: SmallVec<[V; 4]> = values.into_iter().collect();
        for v in &values {
            self.check_field(name, v.as_ref())?;
        }
        self.headers.set_all(name, values);
        Ok(())
    }

    /// Adds a value after the existing ones (Node's `appendHeader`).
    pub fn append_header(&mut self, name: &str, value: impl AsRef<[u8]>) -> Result<(), WriteError> {
        let value = value.as_ref();
        self.check_field(name, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    fn check_field(&self, name: &str, value: &[u8]) -> Result<(), WriteError> {
        if self.headers_sent {
            return Err(WriteError::Protocol(LocalError::WrongState));
        }
        validate_field(name.as_bytes(), value).map_err(WriteError::Protocol)
    }

    /// The first value of a header (Node's `getHeader`).
    pub fn get_header(&self, name: &str) -> Option<&[u8]> {
        self.headers.get(name)
    }

    /// Whether a header is set (Node's `hasHeader`).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.has(name)
    }

    /// Removes a header (Node's `removeHeader`).
    pub fn remove_header(&mut self, name: &str) {
        if !self.headers_sent {
            self.headers.remove(name);
        }
    }

    /// Lower-case header names in order (Node's `getHeaderNames`).
    pub fn header_names(&self) -> Vec<String> {
        self.headers.names()
    }

    /// All headers set so far.
    pub fn headers(&self) -> &OutgoingHeaders {
        &self.headers
    }

    /// Whether the head went out (Node's `headersSent`).
    pub fn headers_sent(&self) -> bool {
        self.headers_sent
    }

    /// Whether `end` was called (Node's `writableEnded`).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Sets status, optional reason and extra headers in one call (Node's
    /// `writeHead`). The head is sent with the first body write or `end`.
    pub fn write_head<N: AsRef<str>, V: AsRef<[u8]>>(
        &mut self,
        status: u16,
        reason: Option<&str>,
        headers: &[(N, V)],
    ) -> Result<(), WriteError> {
        if self.headers_sent {
            return Err(WriteError::Protocol(LocalError::WrongState));
        }
        if !(100..=999).contains(&status) {
            return Err(WriteError::Protocol(LocalError::InvalidStatus));
        }
        if let Some(r) = reason {
            check_reason(r)?;
        }
        for (n, v) in headers {
            self.set_header(n.as_ref(), v.as_ref())?;
        }
        self.status_code = status;
        if let Some(r) = reason {
            self.status_message = r.to_string();
        }
        Ok(())
    }

    fn submit(&self, cmd: Cmd) -> Result<(), WriteError> {
        lock(&self.shared).submit(self.id, cmd)
    }

    fn send_head(&mut self, hint: BodyHint) -> Result<(), WriteError> {
        if self.headers_sent {
            return Ok(());
        }
        check_reason(&self.status_message)?;
        self.headers_sent = true;
        lock(&self.shared).submit_head(self.id, self.head(hint))
    }

    /// The head as it stands.
    fn head(&self, hint: BodyHint) -> HeadRef<'_> {
        HeadRef {
            status: self.status_code,
            reason: self.status_message.as_bytes(),
            headers: &self.headers,
            hint,
            send_date: self.send_date,
        }
    }

    /// Sends the head now, framed for a streamed body (Node's `flushHeaders`).
    pub fn flush_headers(&mut self) -> Result<(), WriteError> {
        self.send_head(BodyHint::Streaming)
    }

    /// Sends `100 Continue` (Node's `writeContinue`).
    pub fn write_continue(&mut self) -> Result<(), WriteError> {
        self.submit(Cmd::Continue)
    }

    /// Sends `102 Processing` (Node's `writeProcessing`).
    pub fn write_processing(&mut self) -> Result<(), WriteError> {
        self.submit(Cmd::Informational(102, Vec::new()))
    }

    /// Sends `103 Early Hints` with the given fields (Node's `writeEarlyHints`).
    pub fn write_early_hints<N: AsRef<str>, V: AsRef<[u8]>>(
        &mut self,
        hints: &[(N, V)],
    ) -> Result<(), WriteError> {
        let mut fields = Vec::with_capacity(hints.len());
        for (n, v) in hints {
            validate_field(n.as_ref().as_bytes(), v.as_ref()).map_err(WriteError::Protocol)?;
            fields.push((n.as_ref().to_string(), v.as_ref().to_vec()));
        }
        self.submit(Cmd::Informational(103, fields))
    }

    /// Trailer fields to send after a chunked body (Node's `addTrailers`).
    pub fn add_trailers<N: AsRef<str>, V: AsRef<[u8]>>(
        &mut self,
        trailers: &[(N, V)],
    ) -> Result<(), WriteError> {
        for (n, v) in trailers {
            validate_field(n.as_ref().as_bytes(), v.as_ref()).map_err(WriteError::Protocol)?;
            // A framing field in a trailer would re-frame the message for
            // some peers: refused here, when the caller can still react.
            let name = n.as_ref();
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                return Err(WriteError::Protocol(LocalError::TrailersNotAllowed));
            }
            self.trailers
                .push((n.as_ref().to_string(), v.as_ref().to_vec()));
        }
        Ok(())
    }

    /// Writes a piece of body, sending the head first if needed. Waits
    /// while more than the high-water mark is queued (backpressure).
    pub async fn write(&mut self, data: impl Into<Bytes>) -> Result<(), WriteError> {
        if self.finished {
            return Err(WriteError::Protocol(LocalError::WrongState));
        }
        self.send_head(BodyHint::Streaming)?;
        let data = data.into();
        if !data.is_empty() {
            self.submit(Cmd::Data(data))?;
        }
        self.drained().await
    }

    /// Waits until the queued output is below the high-water mark.
    pub async fn drained(&self) -> Result<(), WriteError> {
        poll_fn(|cx| {
            let mut s = lock(&self.shared);
            if s.gone {
                return Poll::Ready(Err(WriteError::Closed));
            }
            if s.conn.pending_transmit() + s.unsent <= s.high_water_mark {
                return Poll::Ready(Ok(()));
            }
            // Once per waiter: `unsent` is what the driver last published,
            // and it may have written since. Its next look publishes the
            // truth and wakes the writers that can go on. (A handler the
            // driver polls asks again on every pass; waking it each time
            // would never let the driver rest.)
            if !s.writers.iter().any(|w| w.will_wake(cx.waker())) {
                s.writers.push(cx.waker().clone());
                s.wake_driver();
            }
            Poll::Pending
        })
        .await
    }

    /// Finishes the response, with a last piece of body (Node's `end`).
    pub async fn end(&mut self, data: impl Into<Bytes>) -> Result<(), WriteError> {
        self.end_now(data.into())?;
        self.drained().await
    }

    /// Finishes the response without waiting for the output to drain.
    pub fn end_now(&mut self, data: Bytes) -> Result<(), WriteError> {
        if self.finished {
            return Ok(());
        }
        let send_head = !self.headers_sent;
        if send_head {
            check_reason(&self.status_message)?;
        }
        self.headers_sent = true;
        self.finished = true;
        let trailers = std::mem::take(&mut self.trailers);
        // Head, body and end go in under one lock: the common whole
        // response costs one round trip to the connection.
        let hint = if data.is_empty() {
            BodyHint::Empty
        } else {
            BodyHint::Length(data.len() as u64)
        };
        let head = send_head.then(|| self.head(hint));
        lock(&self.shared).submit_last(self.id, head, data, trailers)
    }
}

/// A reason phrase follows the field-value rule (no CR, LF, NUL). Checked
/// before the head is queued, as Node's `writeHead` does: a reason refused
/// later would leave the response marked sent with nothing written, and
/// the connection waiting for it for ever.
fn check_reason(reason: &str) -> Result<(), WriteError> {
    validate_field(b"reason", reason.as_bytes())
        .map_err(|_| WriteError::Protocol(LocalError::InvalidReason))
}

impl Drop for ServerResponse {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut s = lock(&self.shared);
        if s.gone {
            return;
        }
        if self.headers_sent {
            // A body cut short must not look complete: drop the connection.
            s.destroy = true;
            s.wake_driver();
            return;
        }
        drop(s);
        self.status_code = 500;
        self.status_message.clear();
        self.headers = OutgoingHeaders::new();
        self.headers.set("Connection", "close");
        let _ = self.end_now(Bytes::new());
    }
}
