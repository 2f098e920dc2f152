//! `jilu-faultproxy`: the test suite's fault-injecting UDP proxy as a command, so it
//! can sit between an edge node and the center in a network namespace or container.
//!
//! ```text
//! jilu-faultproxy --listen 127.0.0.1:7000 --target 127.0.0.1:7001 --seed 7 \
//!     --loss 0.1 --dup 0.02 --reorder 0.05 --delay-ms 5 --jitter-ms 5 \
//!     --up-ms 2000 --down-ms 8000 --stats
//! ```
//!
//! Runs until Ctrl-C / SIGTERM. With `--stats`, prints one line of counters per second.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jilu_tests::fault_proxy::{FaultProxy, Faults};

const USAGE: &str = "usage: jilu-faultproxy --target ADDR [--listen ADDR] [--seed N] \
[--loss P] [--dup P] [--reorder P] [--delay-ms MS] [--jitter-ms MS] \
[--up-ms MS --down-ms MS] [--stats]";

#[derive(Debug)]
struct Args {
    listen: SocketAddr,
    target: SocketAddr,
    seed: u64,
    faults: Faults,
    stats: bool,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 7000).into();
    let mut target = None;
    let mut seed = 0u64;
    let mut faults = Faults::default();
    let (mut up, mut down) = (None, None);
    let mut stats = false;
    while let Some(flag) = it.next() {
        if flag == "--stats" {
            stats = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("{flag}: {what}, got {value:?}");
        match flag.as_str() {
            "--listen" => listen = value.parse().map_err(|_| bad("expected IP:PORT"))?,
            "--target" => target = Some(value.parse().map_err(|_| bad("expected IP:PORT"))?),
            "--seed" => seed = value.parse().map_err(|_| bad("expected an integer"))?,
            "--loss" => faults.loss = probability(&value).ok_or_else(|| bad("expected 0..=1"))?,
            "--dup" => {
                faults.duplicate = probability(&value).ok_or_else(|| bad("expected 0..=1"))?
            }
            "--reorder" => {
                faults.reorder = probability(&value).ok_or_else(|| bad("expected 0..=1"))?
            }
            "--delay-ms" => faults.delay = millis(&value).ok_or_else(|| bad("expected ms"))?,
            "--jitter-ms" => faults.jitter = millis(&value).ok_or_else(|| bad("expected ms"))?,
            "--up-ms" => up = Some(millis(&value).ok_or_else(|| bad("expected ms"))?),
            "--down-ms" => down = Some(millis(&value).ok_or_else(|| bad("expected ms"))?),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    faults.cycle = match (up, down) {
        (Some(up), Some(down)) => Some((up, down)),
        (None, None) => None,
        _ => return Err("--up-ms and --down-ms go together".to_string()),
    };
    let target = target.ok_or_else(|| format!("--target is required\n{USAGE}"))?;
    Ok(Args {
        listen,
        target,
        seed,
        faults,
        stats,
    })
}

fn probability(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p))
}

fn millis(s: &str) -> Option<Duration> {
    s.parse::<u64>().ok().map(Duration::from_millis)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    let proxy = match FaultProxy::start_on(args.listen, args.target, args.faults, args.seed).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "jilu-faultproxy: {} -> {} seed {} {:?}",
        proxy.addr(),
        args.target,
        args.seed,
        args.faults
    );

    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            _ = tick.tick(), if args.stats => {
                let s = proxy.stats();
                println!(
                    "t={}s sessions={} forwarded={} dropped={} duplicated={} reordered={} bytes_c2s={} bytes_s2c={}",
                    started.elapsed().as_secs(),
                    proxy.sessions(),
                    s.forwarded,
                    s.dropped,
                    s.duplicated,
                    s.reordered,
                    s.bytes_client_to_server,
                    s.bytes_server_to_client,
                );
            }
            () = shutdown_signal() => break,
        }
    }
    proxy.shutdown();
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM as sent by `docker stop` and `ip netns` scripts.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
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

    fn args(s: &str) -> Result<Args, String> {
        parse_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_the_documented_command_line() {
        let a = args(
            "--listen 127.0.0.1:7000 --target 127.0.0.1:7001 --seed 9 --loss 0.1 --dup 0.02 \
             --reorder 0.05 --delay-ms 5 --jitter-ms 5 --up-ms 2000 --down-ms 8000 --stats",
        )
        .expect("valid");
        assert_eq!(a.listen, "127.0.0.1:7000".parse().expect("addr"));
        assert_eq!(a.target, "127.0.0.1:7001".parse().expect("addr"));
        assert_eq!(a.seed, 9);
        assert!(a.stats);
        assert_eq!(
            a.faults,
            Faults {
                loss: 0.1,
                duplicate: 0.02,
                reorder: 0.05,
                delay: Duration::from_millis(5),
                jitter: Duration::from_millis(5),
                cycle: Some((Duration::from_millis(2000), Duration::from_millis(8000))),
            }
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(args("--loss 0.1").is_err(), "target required");
        assert!(args("--target 127.0.0.1:1 --loss 1.5").is_err());
        assert!(args("--target 127.0.0.1:1 --up-ms 5").is_err());
        assert!(args("--target nowhere").is_err());
        assert!(args("--target 127.0.0.1:1 --bogus 1").is_err());
        assert!(args("--target").is_err());
    }
}
