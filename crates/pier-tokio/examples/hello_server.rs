//! The server of the performance contract (`../shared/perf/README.md`):
//! listens on 127.0.0.1:$PORT, answers every request `200 text/plain`
//! `Hello, World!` with Content-Length, keep-alive by default, and stops on
//! SIGTERM. One thread, like the peers it is measured against.
//!
//! `PORT=8080 cargo run --release -p pier-tokio --example hello_server`

use pier_tokio::{create_server, Bytes, ServerExt};

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut server = create_server(|_req, mut res| async move {
            let _ = res.set_header("Content-Type", "text/plain");
            let _ = res.end_now(Bytes::from_static(b"Hello, World!"));
        });
        server.listen("127.0.0.1", port).await?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        server.close_all_connections();
        Ok(())
    })
}
