//! Command-line options.

use pier_tokio::ServerOptions;
use std::time::Duration;

pub enum Usage {
    Bad(String),
    Io(std::io::Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeChoice {
    Tokio,
    AsyncStd,
    Smol,
}

fn runtime(name: Option<&String>) -> Result<RuntimeChoice, Usage> {
    match name.map(String::as_str) {
        Some("tokio") => Ok(RuntimeChoice::Tokio),
        Some("async-std") => Ok(RuntimeChoice::AsyncStd),
        Some("smol") => Ok(RuntimeChoice::Smol),
        Some(other) => Err(Usage::Bad(format!(
            "unknown runtime: {other} (tokio, async-std, smol)"
        ))),
        None => Err(Usage::Bad("--runtime needs a value".into())),
    }
}

pub struct ServeOptions {
    pub runtime: RuntimeChoice,
    pub host: String,
    pub port: u16,
    pub server: ServerOptions,
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<&String>) -> Result<T, Usage> {
    let v = value.ok_or_else(|| Usage::Bad(format!("{flag} needs a value")))?;
    v.parse()
        .map_err(|_| Usage::Bad(format!("{flag}: not a number: {v}")))
}

pub fn parse_serve(args: &[String]) -> Result<ServeOptions, Usage> {
    let mut o = ServeOptions {
        runtime: RuntimeChoice::Tokio,
        host: "127.0.0.1".into(),
        port: 8080,
        server: ServerOptions::default(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--runtime" => o.runtime = runtime(it.next())?,
            "--host" => {
                o.host = it
                    .next()
                    .ok_or_else(|| Usage::Bad("--host needs a value".into()))?
                    .clone()
            }
            "--port" => o.port = number(flag, it.next())?,
            "--headers-timeout" => {
                o.server.headers_timeout = Duration::from_millis(number(flag, it.next())?)
            }
            "--request-timeout" => {
                o.server.request_timeout = Duration::from_millis(number(flag, it.next())?)
            }
            "--keep-alive-timeout" => {
                o.server.keep_alive_timeout = Duration::from_millis(number(flag, it.next())?)
            }
            "--max-header-size" => o.server.max_header_size = number(flag, it.next())?,
            "--max-headers-count" => o.server.max_headers_count = number(flag, it.next())?,
            other => return Err(Usage::Bad(format!("unknown option: {other}"))),
        }
    }
    Ok(o)
}

pub struct FetchOptions {
    pub runtime: RuntimeChoice,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub data: Option<String>,
    pub verbose: bool,
    pub url: String,
}

pub fn parse_fetch(args: &[String]) -> Result<FetchOptions, Usage> {
    let mut o = FetchOptions {
        runtime: RuntimeChoice::Tokio,
        method: "GET".into(),
        headers: Vec::new(),
        data: None,
        verbose: false,
        url: String::new(),
    };
    let mut it = args.iter();
    let need = |v: Option<&String>, flag: &str| -> Result<String, Usage> {
        v.cloned()
            .ok_or_else(|| Usage::Bad(format!("{flag} needs a value")))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runtime" => o.runtime = runtime(it.next())?,
            "--method" | "-X" => o.method = need(it.next(), a)?,
            "--header" | "-H" => {
                let h = need(it.next(), a)?;
                let (k, v) = h
                    .split_once(':')
                    .filter(|(k, _)| !k.trim().is_empty())
                    .ok_or_else(|| Usage::Bad(format!("bad header {h:?}")))?;
                o.headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            "--data" | "-d" => o.data = Some(need(it.next(), a)?),
            "-v" | "--verbose" => o.verbose = true,
            url if o.url.is_empty() && !url.starts_with('-') => o.url = url.to_string(),
            other => return Err(Usage::Bad(format!("unexpected argument {other:?}"))),
        }
    }
    if o.url.is_empty() {
        return Err(Usage::Bad("missing URL".into()));
    }
    Ok(o)
}
