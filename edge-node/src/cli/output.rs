//! Where a command's output goes. Every command writes through [`Out`], never to
//! stdout or stderr itself, so the same command gives the same bytes whether it ran
//! in this process or in the running node on the other end of the control socket
//! (which forwards each call as a frame; see [`crate::control`]).

use std::io::{IsTerminal, Write};

use serde::{Deserialize, Serialize};

/// One thing a command printed, in the order it printed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Print {
    /// a line of standard output
    Out(String),
    /// a line of standard error
    Err(String),
    /// a progress bar starts (file name, total bytes)
    BarStart { name: String, len: u64 },
    /// the progress bar's position
    BarPos(u64),
    /// the progress bar ends and is cleared
    BarEnd,
}

/// Receives what a command prints.
pub trait Sink: Send {
    fn print(&mut self, p: Print);
}

/// The terminal of this process: stdout, stderr and, when stderr is a terminal, a
/// progress bar.
#[derive(Debug, Default)]
pub struct Terminal {
    bar: Option<indicatif::ProgressBar>,
}

impl Sink for Terminal {
    fn print(&mut self, p: Print) {
        match p {
            Print::Out(line) => {
                let mut o = std::io::stdout().lock();
                // a closed pipe (`edge-node items | head`) is not an error of the command
                let _ = writeln!(o, "{line}");
                let _ = o.flush();
            }
            Print::Err(line) => match &self.bar {
                Some(b) => b.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            },
            Print::BarStart { name, len } => {
                if !std::io::stderr().is_terminal() {
                    return;
                }
                let b = indicatif::ProgressBar::new(len);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b.set_message(name);
                self.bar = Some(b);
            }
            Print::BarPos(n) => {
                if let Some(b) = &self.bar {
                    b.set_position(n);
                }
            }
            Print::BarEnd => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}

/// A command's output: text lines, or with `--json` one JSON value per line.
pub struct Out<'a> {
    pub json: bool,
    sink: &'a mut dyn Sink,
}

impl std::fmt::Debug for Out<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out").field("json", &self.json).finish()
    }
}

impl<'a> Out<'a> {
    pub fn new(json: bool, sink: &'a mut dyn Sink) -> Out<'a> {
        Out { json, sink }
    }

    /// A line of text on standard output.
    pub fn line(&mut self, text: impl Into<String>) {
        self.sink.print(Print::Out(text.into()));
    }

    /// Several lines of text (a rendered view ending in a newline).
    pub fn block(&mut self, text: &str) {
        for l in text.lines() {
            self.line(l);
        }
    }

    /// One JSON value on one line of standard output.
    pub fn value(&mut self, v: &serde_json::Value) {
        self.line(v.to_string());
    }

    /// `v` as JSON with `--json`, else the text `text()` gives.
    pub fn show(&mut self, v: &serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            self.value(v);
        } else {
            self.line(text());
        }
    }

    /// Text, printed only without `--json` (a confirmation scripts do not need).
    pub fn say(&mut self, text: impl FnOnce() -> String) {
        if !self.json {
            self.line(text());
        }
    }

    /// A line on standard error (notes, and per-file errors of a command that goes on).
    pub fn note(&mut self, text: impl Into<String>) {
        self.sink.print(Print::Err(text.into()));
    }

    /// Starts a progress bar: shown only on a terminal, and never with `--json`.
    pub fn bar_start(&mut self, name: String, len: u64) {
        if !self.json {
            self.sink.print(Print::BarStart { name, len });
        }
    }

    pub fn bar_pos(&mut self, n: u64) {
        if !self.json {
            self.sink.print(Print::BarPos(n));
        }
    }

    pub fn bar_end(&mut self) {
        if !self.json {
            self.sink.print(Print::BarEnd);
        }
    }
}

/// The error and its causes on one line, without repeating a cause the message
/// already contains.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out.replace('\n', " ")
}

/// Collects what a command prints (the office page's forms, and tests).
#[derive(Debug, Default)]
pub struct Recorded(pub Vec<Print>);

impl Sink for Recorded {
    fn print(&mut self, p: Print) {
        self.0.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_mode_prints_values_and_no_bars() {
        let mut rec = Recorded::default();
        {
            let mut out = Out::new(true, &mut rec);
            out.show(&serde_json::json!({"a": 1}), || "text".into());
            out.say(|| "confirmation".into());
            out.bar_start("f".into(), 10);
            out.bar_pos(5);
            out.bar_end();
            out.note("error: x");
        }
        assert_eq!(
            rec.0,
            vec![
                Print::Out("{\"a\":1}".into()),
                Print::Err("error: x".into())
            ]
        );
        let mut rec = Recorded::default();
        {
            let mut out = Out::new(false, &mut rec);
            out.show(&serde_json::json!({"a": 1}), || "text".into());
            out.block("one\ntwo\n");
        }
        assert_eq!(
            rec.0,
            vec![
                Print::Out("text".into()),
                Print::Out("one".into()),
                Print::Out("two".into())
            ]
        );
    }

    #[test]
    fn one_line_joins_causes_once() {
        let e = anyhow::anyhow!("inner").context("outer: inner");
        assert_eq!(one_line(&e), "outer: inner");
        let e = anyhow::anyhow!("a\nb").context("c");
        assert_eq!(one_line(&e), "c: a b");
    }
}
