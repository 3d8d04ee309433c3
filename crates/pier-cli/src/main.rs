//! `pier`: the command-line face of Pier.
//!
//! `pier serve` runs the echo server of the conformance contract: every
//! request is answered `200` with a JSON description of what arrived.

mod echo;
mod fetch;
mod json;
mod options;

use options::{parse_fetch, parse_serve, Usage};
use std::process::ExitCode;

const USAGE: &str = "usage:
  pier serve [--runtime tokio|async-std|smol] [--host H] [--port P] [--headers-timeout MS]
             [--request-timeout MS] [--keep-alive-timeout MS]
             [--max-header-size BYTES] [--max-headers-count N]
  pier fetch [--runtime tokio|async-std|smol] [--method M] [--header 'K: V']... [--data STR] [-v] URL";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => parse_serve(&args[1..]).and_then(|o| echo::serve(o).map_err(Usage::Io)),
        Some("fetch") => match parse_fetch(&args[1..]) {
            Ok(o) => return ExitCode::from(fetch::run(o) as u8),
            Err(e) => Err(e),
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(Usage::Bad("expected a command".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage::Bad(msg)) => {
            eprintln!("pier: {msg}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Usage::Io(e)) => {
            eprintln!("pier: {e}");
            ExitCode::FAILURE
        }
    }
}
