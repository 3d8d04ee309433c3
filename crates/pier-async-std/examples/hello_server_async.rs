//! The server of the performance contract (`../shared/perf/README.md`) on
//! async-std (or smol with `PIER_RUNTIME=smol`): listens on
//! 127.0.0.1:$PORT, answers `200 text/plain` `Hello, World!`, stops on
//! SIGTERM or Ctrl-C.

use pier_async_std::{Bytes, Runtime, Server, ServerExt};

async fn run<R: Runtime>(rt: R, port: u16) -> std::io::Result<()> {
    let mut server = Server::new(rt, |_req, mut res| async move {
        let _ = res.set_header("Content-Type", "text/plain");
        let _ = res.end_now(Bytes::from_static(b"Hello, World!"));
    });
    server.listen("127.0.0.1", port).await?;
    // Parked until the process is stopped.
    std::future::pending::<()>().await;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    match std::env::var("PIER_RUNTIME").as_deref() {
        Ok("smol") => smol::block_on(run(pier_async_std::Smol, port)),
        _ => async_std::task::block_on(run(pier_async_std::AsyncStd, port)),
    }
}
