//! Runs a client and a server connection against each other in memory and
//! prints the bytes each side wrote: a keep-alive exchange, a chunked
//! upload with trailers, a pipelined pair, and a refused smuggling attempt.
//!
//! `cargo run -p pier-proto --example transcript`

use pier_proto::{BodyHint, ClientConfig, ClientConn, Event, Method, ServerConfig, ServerConn};

fn show(who: &str, bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
        println!("{who} {}", line.escape_debug());
    }
}

fn transmit_client(c: &mut ClientConn) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = c.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

fn transmit_server(s: &mut ServerConn) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = s.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

/// The server echoes each request's body back, framed as the body came.
fn serve(server: &mut ServerConn, wire: &[u8]) -> Vec<u8> {
    server.feed(wire);
    let mut body = Vec::new();
    loop {
        match server.poll_event() {
            Ok(Some(Event::Request(req))) => {
                println!(
                    "   server: request {} {}",
                    req.method(),
                    String::from_utf8_lossy(req.target())
                );
                body.clear();
            }
            Ok(Some(Event::Data(d))) => body.extend_from_slice(&d),
            Ok(Some(Event::End(trailers))) => {
                println!(
                    "   server: end, {} body bytes, {} trailers",
                    body.len(),
                    trailers.len()
                );
                let hint = BodyHint::Length(body.len() as u64);
                server
                    .send_response(200, b"", &[("Content-Type", "text/plain")], hint)
                    .expect("valid response");
                server
                    .send_data(body.clone().into())
                    .expect("declared length");
                server.send_end().expect("complete");
            }
            Ok(Some(other)) => println!("   server: {other:?}"),
            Ok(None) => break,
            Err(e) => {
                println!("   server: refused: {e} (answer {})", e.status_hint());
                break;
            }
        }
    }
    transmit_server(server)
}

fn read_responses(client: &mut ClientConn, wire: &[u8]) {
    client.feed(wire);
    while let Ok(Some(ev)) = client.poll_event() {
        match ev {
            Event::Response(r) => println!("   client: response {}", r.status()),
            Event::Data(d) => println!("   client: {} body bytes", d.len()),
            Event::End(_) => println!("   client: end (reusable: {})", client.is_reusable()),
            other => println!("   client: {other:?}"),
        }
    }
}

fn main() {
    let mut client = ClientConn::new(ClientConfig::default());
    let mut server = ServerConn::new(ServerConfig::default());

    println!("== a GET on a keep-alive connection");
    client
        .send_request(
            &Method::GET,
            b"/hello",
            &[("Host", "example")],
            BodyHint::Empty,
        )
        .unwrap();
    client.send_end().unwrap();
    let req = transmit_client(&mut client);
    show(">", &req);
    let res = serve(&mut server, &req);
    show("<", &res);
    read_responses(&mut client, &res);

    println!("== a streamed upload: chunked, with a trailer");
    client
        .send_request(
            &Method::POST,
            b"/upload",
            &[("Host", "example")],
            BodyHint::Streaming,
        )
        .unwrap();
    client.send_data("hello ".into()).unwrap();
    client.send_data("world".into()).unwrap();
    client
        .send_end_with_trailers(&[("X-Checksum", "42")])
        .unwrap();
    let req = transmit_client(&mut client);
    show(">", &req);
    let res = serve(&mut server, &req);
    show("<", &res);
    read_responses(&mut client, &res);

    println!("== a smuggling attempt: Content-Length and Transfer-Encoding together");
    let attack = b"POST / HTTP/1.1\r\nHost: example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n\r\n";
    show(">", attack);
    let mut fresh = ServerConn::new(ServerConfig::default());
    serve(&mut fresh, attack);
    println!("   server: should close: {}", fresh.should_close());
}
