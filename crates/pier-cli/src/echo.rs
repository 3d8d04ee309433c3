//! The echo server of the conformance contract.

use crate::json::{base64, json_latin1, json_pairs};
use crate::options::{RuntimeChoice, ServeOptions};
use bytes::Bytes;
use pier_tokio::{create_server, IncomingMessage, ServerExt, ServerResponse};

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
