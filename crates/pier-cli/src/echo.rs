//! The echo server of the conformance contract.

use crate::options::{RuntimeChoice, ServeOptions};
use bytes::Bytes;
use pier_tokio::{create_server, IncomingMessage, RawHeaders, ServerExt, ServerResponse};

/// Appends `bytes` as a JSON string, one code point per byte (latin1).
fn json_latin1(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x00..=0x1f | 0x7f => out.push_str(&format!("\\u{:04x}", b)),
            _ => out.push(char::from(b)),
        }
    }
    out.push('"');
}

fn json_pairs(out: &mut String, fields: &RawHeaders) {
    out.push('[');
    for (i, (n, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json_latin1(out, n);
        out.push(',');
        json_latin1(out, v);
        out.push(']');
    }
    out.push(']');
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn echo(mut req: IncomingMessage, mut res: ServerResponse) {
    let body = match req.bytes().await {
        Ok(b) => b,
        // The connection failed mid-body: there is nobody to answer.
        Err(_) => return,
    };
    let trailers = req.raw_trailers().unwrap_or_default();
    let mut json = String::with_capacity(256 + body.len() * 4 / 3);
    json.push_str("{\"method\":");
    json_latin1(&mut json, req.method().as_bytes());
    json.push_str(",\"url\":");
    json_latin1(&mut json, req.url());
    json.push_str(",\"version\":\"");
    json.push_str(&req.http_version());
    json.push_str("\",\"headers\":");
    json_pairs(&mut json, req.raw_headers());
    json.push_str(",\"body_base64\":\"");
    json.push_str(&base64(&body));
    json.push_str("\",\"trailers\":");
    json_pairs(&mut json, &trailers);
    json.push('}');
    eprintln!(
        "{} {} HTTP/{} -> 200 ({} body bytes)",
        req.method(),
        String::from_utf8_lossy(req.url()),
        req.http_version(),
        body.len()
    );
    let _ = res.set_header("Content-Type", "application/json");
    let _ = res.end(Bytes::from(json)).await;
}

pub fn serve(o: ServeOptions) -> std::io::Result<()> {
    match o.runtime {
        RuntimeChoice::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut server = create_server(echo).options(o.server);
                let addr = server.listen(&o.host, o.port).await?;
                println!("pier: listening on {addr}");
                wait_for_stop().await;
                eprintln!("pier: closing");
                server.close().await;
                Ok(())
            })
        }
    }
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn latin1_json() {
        let mut s = String::new();
        json_latin1(&mut s, b"a\"\\\x01\xc3\xa9");
        assert_eq!(s, "\"a\\\"\\\\\\u0001\u{c3}\u{a9}\"");
    }
}
