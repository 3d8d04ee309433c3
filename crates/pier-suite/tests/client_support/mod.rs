// Helpers for the client tests: a raw TCP peer that reads the exact bytes
// Pier's `ClientRequest` sends and writes crafted response bytes, small
// keep-alive servers that count their connections, and a Node 20 server
// started from an inline script.

use super::{rt, Rt};
use pier::{
    Agent, AgentChoice, AgentOptions, RawHeaders, RequestError, RequestOptions, Runtime,
};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a test waits for something it expects before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// `outcome` must be a socket hang-up on a fresh socket, not retried,
/// after all `request_len` bytes of the request went out.
pub fn assert_fresh_hang_up<T: std::fmt::Debug>(
    outcome: Result<T, RequestError>,
    request_len: usize,
    what: &str,
) {
    match outcome {
        Err(RequestError::SocketHangUp {
            reused,
            bytes_written,
            retried,
        }) => {
            assert!(!reused && !retried, "{what}");
            assert_eq!(bytes_written, request_len as u64, "{what}");
        }
        Err(e) => panic!("{what}: expected a socket hang up, got {e}"),
        Ok(res) => panic!("{what}: expected a socket hang up, got {res:?}"),
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Polls `cond` every few milliseconds until it holds.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(ms(2)).await;
        }
    })
    .await
}

/// Bytes as a string, one char per byte.
pub fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Fields as (name, value) strings, in order and case as received.
pub fn pairs(h: &RawHeaders) -> Vec<(String, String)> {
    h.iter().map(|(n, v)| (latin1(n), latin1(v))).collect()
}

/// Request options for `127.0.0.1:port` through `agent`.
pub fn opts(port: u16, agent: AgentChoice<Rt>) -> RequestOptions<Rt> {
    let mut o = RequestOptions::new(agent);
    o.host = "127.0.0.1".into();
    o.port = port;
    o
}

/// A keep-alive agent with otherwise Node's `new Agent()` options.
pub fn keep_alive_agent() -> Agent<Rt> {
    agent_with(AgentOptions {
        keep_alive: true,
        ..AgentOptions::default()
    })
}

pub fn agent_with(options: AgentOptions) -> Agent<Rt> {
    Agent::new(rt(), options).expect("valid agent options")
}

/// An agent whose every connection goes to `to`, whatever host and port
/// the request names (so `Host` can be checked for port 80 or `[::1]`).
pub fn redirect_agent(to: SocketAddr) -> Agent<Rt> {
    let rt = rt();
    Agent::with_connector(
        rt.clone(),
        AgentOptions {
            keep_alive: true,
            ..AgentOptions::default()
        },
        Arc::new(move |_| rt.connect_tcp(to, None)),
    )
    .expect("valid agent options")
}

/// A plain TCP listener on 127.0.0.1, port 0, playing the server.
pub struct RawServer {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl RawServer {
    pub async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        RawServer { listener, addr }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next connection.
    pub async fn accept(&self) -> Wire {
        let (stream, _) = within("accept", self.listener.accept())
            .await
            .expect("accept");
        Wire::new(stream)
    }

    /// Whether a connection arrives within `d`.
    pub async fn accepts_within(&self, d: Duration) -> bool {
        tokio::time::timeout(d, self.listener.accept())
            .await
            .is_ok()
    }
}

/// One accepted connection, with a read buffer.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    pub fn new(stream: TcpStream) -> Self {
        Wire {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; false at EOF (or reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Everything up to and including `pat`; `None` at EOF before it.
    pub async fn try_read_until(&mut self, pat: &[u8]) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(pat.len()).position(|w| w == pat) {
                let out: Vec<u8> = self.buf.drain(..i + pat.len()).collect();
                return Some(latin1(&out));
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Exactly `n` bytes; `None` at EOF before them.
    pub async fn try_read_exact(&mut self, n: usize) -> Option<String> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(latin1(&self.buf.drain(..n).collect::<Vec<u8>>()))
    }

    /// A whole request (head and body, framed by Content-Length or
    /// chunked), exactly as it came; `None` at EOF before its end.
    pub async fn try_read_request(&mut self) -> Option<String> {
        let head = self.try_read_until(b"\r\n\r\n").await?;
        let lower = head.to_ascii_lowercase();
        let mut out = head;
        if lower.contains("\r\ntransfer-encoding: chunked\r\n") {
            loop {
                let line = self.try_read_until(b"\r\n").await?;
                let size = usize::from_str_radix(line.trim_end(), 16).expect("chunk size");
                out.push_str(&line);
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        let t = self.try_read_until(b"\r\n").await?;
                        out.push_str(&t);
                        if t == "\r\n" {
                            return Some(out);
                        }
                    }
                }
                out.push_str(&self.try_read_exact(size + 2).await?);
            }
        } else if let Some(i) = lower.find("\r\ncontent-length: ") {
            let rest = &lower[i + 18..];
            let n: usize = rest[..rest.find("\r\n").expect("line end")]
                .parse()
                .expect("length");
            out.push_str(&self.try_read_exact(n).await?);
        }
        Some(out)
    }

    fn eof_panic(&self, what: &str) -> ! {
        panic!("EOF before {what}; had {:?}", latin1(&self.buf))
    }

    /// Everything up to and including `pat`.
    pub async fn read_until(&mut self, pat: &[u8]) -> String {
        match within("read_until", self.try_read_until(pat)).await {
            Some(s) => s,
            None => self.eof_panic(&latin1(pat)),
        }
    }

    /// Exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> String {
        match within("read_exact", self.try_read_exact(n)).await {
            Some(s) => s,
            None => self.eof_panic(&format!("{n} bytes")),
        }
    }

    /// A message head, through the blank line.
    pub async fn read_head(&mut self) -> String {
        self.read_until(b"\r\n\r\n").await
    }

    /// A whole request, head and body.
    pub async fn read_request(&mut self) -> String {
        match within("read_request", self.try_read_request()).await {
            Some(s) => s,
            None => self.eof_panic("a whole request"),
        }
    }

    /// Nothing arrives for `d` (bytes already buffered count as arrived).
    pub async fn quiet_for(&mut self, d: Duration) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(d, self.stream.read(&mut chunk)).await {
            Err(_) => true,
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                false
            }
        }
    }

    /// Reads until the client closes; returns what came before.
    pub async fn read_to_eof(&mut self) -> String {
        within("read_to_eof", async { while self.fill().await {} }).await;
        latin1(&std::mem::take(&mut self.buf))
    }

    pub async fn write(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .await
            .expect("write to client");
    }
}

/// A keep-alive server made of raw peers: every request on every
/// connection gets `respond(request text)`; connections and requests are
/// counted. With a gate, answers wait until the gate opens; with an idle
/// limit, a connection quiet for that long is closed (a server's
/// keep-alive timeout).
pub struct CountingServer {
    pub port: u16,
    pub accepts: Arc<AtomicUsize>,
    pub requests: Arc<AtomicUsize>,
    gate: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

type Respond = Arc<dyn Fn(&str) -> String + Send + Sync>;

impl CountingServer {
    pub async fn start(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self::start_with(respond, true, None).await
    }

    /// `open`: whether answers go out at once; `idle_close`: the idle limit.
    pub async fn start_with(
        respond: impl Fn(&str) -> String + Send + Sync + 'static,
        open: bool,
        idle_close: Option<Duration>,
    ) -> Self {
        let raw = RawServer::bind().await;
        let port = raw.port();
        let accepts = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let respond: Respond = Arc::new(respond);
        let gate = Arc::new(AtomicBool::new(open));
        let gate_rx = gate.clone();
        let (a, r) = (accepts.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = raw.listener.accept().await else {
                    return;
                };
                a.fetch_add(1, Ordering::SeqCst);
                let conn = serve_conn(
                    Wire::new(stream),
                    respond.clone(),
                    r.clone(),
                    gate_rx.clone(),
                    idle_close,
                );
                tokio::spawn(conn);
            }
        });
        CountingServer {
            port,
            accepts,
            requests,
            gate,
            task,
        }
    }

    /// Lets the held answers (and every later one) go out.
    pub fn open(&self) {
        self.gate.store(true, Ordering::SeqCst);
    }

    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve_conn(
    mut w: Wire,
    respond: Respond,
    requests: Arc<AtomicUsize>,
    gate: Arc<AtomicBool>,
    idle_close: Option<Duration>,
) {
    loop {
        let next = match idle_close {
            Some(d) => match tokio::time::timeout(d, w.try_read_request()).await {
                Ok(r) => r,
                // Idle too long: close, as a server's keep-alive timeout does.
                Err(_) => return,
            },
            None => w.try_read_request().await,
        };
        let Some(req) = next else { return };
        requests.fetch_add(1, Ordering::SeqCst);
        while !gate.load(Ordering::SeqCst) {
            tokio::time::sleep(ms(1)).await;
        }
        let res = respond(&req);
        if w.stream.write_all(res.as_bytes()).await.is_err() {
            return;
        }
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Node 20 process running an inline script that prints its port on
/// the first line. It exits when its stdin closes (and is killed on drop).
pub struct NodeServer {
    child: Child,
    pub port: u16,
}

impl NodeServer {
    pub fn start(script: &str) -> Self {
        let wrapped = format!(
            "process.stdin.on('end', () => process.exit(0)); process.stdin.resume();\n{script}"
        );
        let mut child = Command::new("node")
            .arg("-e")
            .arg(wrapped)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node 20 is installed");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("node prints its port");
        let port = line.trim().parse().expect("a port number");
        NodeServer { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
