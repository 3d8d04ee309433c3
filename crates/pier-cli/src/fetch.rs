//! `pier fetch`: one request, the response as one JSON line.

use crate::json::{base64, json_latin1, json_pairs};
use crate::options::{FetchOptions, RuntimeChoice};
use pier::{apply_url, AgentChoice, Bytes, ClientRequest, Method, RequestOptions, Runtime};

fn trace(on: bool, what: &str) {
    if on {
        eprintln!("* {what}");
    }
}

async fn fetch<R: Runtime>(rt: R, o: FetchOptions) -> Result<String, String> {
    let mut opts: RequestOptions<R> = RequestOptions::new(AgentChoice::None);
    apply_url(&mut opts, &o.url).map_err(|e| format!("bad URL {}: {e}", o.url))?;
    opts.method =
        Method::from_bytes(o.method.as_bytes()).ok_or(format!("bad method {}", o.method))?;
    // Repeated names go out as separate lines after the first one, spelled
    // like the first (what Node does with a headers object).
    let mut grouped: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (k, v) in &o.headers {
        match grouped.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
            Some((_, vs)) => vs.push(v.clone().into_bytes()),
            None => grouped.push((k.clone(), vec![v.clone().into_bytes()])),
        }
    }
    opts.headers = grouped
        .into_iter()
        .flat_map(|(n, vs)| vs.into_iter().map(move |v| (n.clone(), v)))
        .collect();
    let verbose = o.verbose;
    let mut req = ClientRequest::new(rt, opts).map_err(|e| e.to_string())?;
    let body = o.data.map(Bytes::from).unwrap_or_default();
    let outcome = req.end(body).await;
    // The events in Node's order, like `curl -v`.
    trace(
        verbose,
        &format!("socket (reused: {})", req.reused_socket()),
    );
    for head in req.informational() {
        if head.status() == 100 {
            trace(verbose, "continue");
        } else {
            trace(verbose, &format!("information {}", head.status()));
        }
    }
    if req.retried() {
        trace(verbose, "retried once on a new socket");
    }
    let mut res = outcome.map_err(|e| e.to_string())?;
    trace(
        verbose,
        &format!(
            "response {} {}",
            res.status(),
            String::from_utf8_lossy(res.reason())
        ),
    );
    let data = res
        .bytes()
        .await
        .map_err(|e| format!("response {e} (ECONNRESET)"))?;
    trace(verbose, &format!("end ({} body bytes)", data.len()));
    let trailers = res.raw_trailers().unwrap_or_default();
    let mut json = String::new();
    json.push_str(&format!("{{\"status\":{},\"reason\":", res.status()));
    json_latin1(&mut json, res.reason());
    json.push_str(&format!(",\"version\":\"{}\",\"headers\":", res.version()));
    json_pairs(&mut json, res.raw_headers());
    json.push_str(",\"body_base64\":\"");
    json.push_str(&base64(&data));
    json.push_str("\",\"trailers\":");
    json_pairs(&mut json, &trailers);
    json.push('}');
    trace(verbose, "close");
    Ok(json)
}

pub fn run(o: FetchOptions) -> i32 {
    let result = match o.runtime {
        RuntimeChoice::Tokio => {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(async move { fetch(pier_tokio::Tokio::current(), o).await }),
                Err(e) => Err(e.to_string()),
            }
        }
        RuntimeChoice::AsyncStd => async_std::task::block_on(fetch(pier_async_std::AsyncStd, o)),
        RuntimeChoice::Smol => smol::block_on(fetch(pier_async_std::Smol, o)),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
