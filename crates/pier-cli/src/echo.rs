//! The echo server of the conformance contract.

use crate::json::{base64, json_latin1, json_pairs};
use crate::options::{RuntimeChoice, ServeOptions};
use bytes::Bytes;
use pier::{IncomingMessage, Runtime, Server, ServerExt, ServerResponse};

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

async fn run<R: Runtime>(
    rt: R,
    o: ServeOptions,
    stop: async_channel::Receiver<()>,
) -> std::io::Result<()> {
    let mut server = Server::new(rt, echo).options(o.server);
    let addr = server.listen(&o.host, o.port).await?;
    println!("pier: listening on {addr}");
    let _ = stop.recv().await;
    eprintln!("pier: closing");
    server.close().await;
    Ok(())
}

/// Runs the echo server on the chosen runtime until Ctrl-C or SIGTERM.
pub fn serve(o: ServeOptions) -> std::io::Result<()> {
    let (tx, stop) = async_channel::bounded(1);
    ctrlc::set_handler(move || {
        let _ = tx.try_send(());
    })
    .map_err(std::io::Error::other)?;
    match o.runtime {
        RuntimeChoice::Tokio => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move { run(pier_tokio::Tokio::current(), o, stop).await })
        }
        RuntimeChoice::AsyncStd => {
            async_std::task::block_on(run(pier_async_std::AsyncStd, o, stop))
        }
        RuntimeChoice::Smol => smol::block_on(run(pier_async_std::Smol, o, stop)),
    }
}
