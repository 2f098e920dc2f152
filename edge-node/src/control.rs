//! The control socket: how a CLI command reaches the running node.
//!
//! While `edge-node run` (or `sync`, or `dock watch`) holds the store, every other
//! command is sent to it over a Unix socket in the data directory
//! (`control.sock`, mode 0660: the service's group may use it, nobody else) and
//! runs there, printing through the same output layer as in a process of its own,
//! so text, `--json`, error lines and exit codes are the same either way.
//!
//! # Goals
//! - **One writer.** The running node owns the store; commands are serialised
//!   with its own work by the store's transactions, not by a second process
//!   fighting for RocksDB's lock.
//! - **The user's rights for the user's files.** The node may run as a service
//!   account. A recording to ingest is opened, and an export's file created, by
//!   the CLI process, which passes the open file over the socket (`SCM_RIGHTS`).
//! - **Who did it.** The node reads the peer's credentials from the socket
//!   (`SO_PEERCRED`), and the audit log records them beside the `--as` actor, so
//!   a shared kiosk account is visible.
//! - **Ctrl-C means stop.** The CLI sends [`Reply::Cancel`] (or simply goes
//!   away); a running ingest is discarded cleanly, as a crash would be.
//!
//! # Frames
//! Each frame is a 4-byte big-endian length and a JSON body, at most
//! [`MAX_FRAME`]. The CLI opens with [`Hello`]; the node answers with
//! [`Frame`]s until [`Frame::Exit`]. A [`Frame`] that asks for a file is answered
//! with one [`Reply`], which carries the open file as ancillary data when it has
//! one.

pub mod client;
pub mod server;

use std::collections::VecDeque;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cli::output::Print;
use crate::cli::Command;

/// Bumped on any incompatible change: a CLI and a node of different versions
/// refuse each other by name.
pub const CONTROL_VERSION: u16 = 1;

/// Largest frame either side accepts (a `status --json` with many findings fits
/// easily; a frame is never footage).
pub const MAX_FRAME: usize = 16 << 20;

/// The socket's name in the data directory.
pub const SOCKET_NAME: &str = "control.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// What the CLI asks the node to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub version: u16,
    /// the CLI's `edge-node` version, named in a refusal
    pub software: String,
    pub json: bool,
    /// the `--as` actor
    pub actor: String,
    /// the command, its paths made absolute by the CLI
    pub command: Command,
}

/// Node → CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    /// something the command printed
    Print(Print),
    /// the files of these paths in ingest order ([`Reply::Planned`])
    Plan { paths: Vec<PathBuf> },
    /// open this recording for reading ([`Reply::File`])
    OpenSource { path: PathBuf },
    /// does this path exist ([`Reply::Exists`])
    Exists { path: PathBuf },
    /// create this file, which must not exist ([`Reply::File`])
    CreateNew { path: PathBuf },
    /// move a finished file into place ([`Reply::Done`])
    Rename { from: PathBuf, to: PathBuf },
    /// remove a file left unfinished ([`Reply::Done`])
    Remove { path: PathBuf },
    /// the command ended with this exit status
    Exit(u8),
}

/// CLI → node, after the hello.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Planned(Vec<PathBuf>),
    /// the open file travels with this frame
    File,
    Exists(bool),
    Done,
    /// what the CLI could not do, as one line for the user
    Failed(String),
    /// the user pressed Ctrl-C
    Cancel,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// the peer sent a frame larger than [`MAX_FRAME`]
    #[error("control frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// the frame is not what the protocol allows
    #[error("malformed control frame: {0}")]
    Malformed(String),
    /// a reply said it carries a file and none arrived
    #[error("the reply carries no file")]
    NoFile,
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes one frame (no file attached).
pub fn write_frame<T: Serialize>(s: &mut UnixStream, msg: &T) -> Result<(), ControlError> {
    let body = serde_json::to_vec(msg).map_err(|e| ControlError::Malformed(e.to_string()))?;
    if body.len() > MAX_FRAME {
        return Err(ControlError::TooLarge(body.len()));
    }
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    s.write_all(&frame)?;
    Ok(())
}

/// Writes one frame with `file` attached, in a single `sendmsg`, so the file
/// arrives with the frame's first byte.
pub fn write_frame_with_file<T: Serialize>(
    s: &UnixStream,
    msg: &T,
    file: impl AsFd,
) -> Result<(), ControlError> {
    let body = serde_json::to_vec(msg).map_err(|e| ControlError::Malformed(e.to_string()))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    let fd = file.as_fd();
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(ControlError::Malformed("no room for the file".into()));
    }
    let mut sent = rustix::net::sendmsg(
        s,
        &[IoSlice::new(&frame)],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map_err(std::io::Error::from)?;
    // the rest, if the socket took only part: the file went with the first byte
    while sent < frame.len() {
        sent += rustix::net::send(s, &frame[sent..], SendFlags::NOSIGNAL)
            .map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// Reads one frame; `Ok(None)` at a clean end of the stream.
pub fn read_frame<T: DeserializeOwned>(s: &mut impl Read) -> Result<Option<T>, ControlError> {
    let mut header = [0u8; 4];
    match s.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(ControlError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ControlError::Malformed(e.to_string()))
}

/// Reads frames that may carry files: every read is a `recvmsg`, and the files
/// that arrive are queued in order for the frames that say they carry one.
#[derive(Debug)]
pub struct FileReader {
    stream: UnixStream,
    buf: Vec<u8>,
    files: VecDeque<OwnedFd>,
}

impl FileReader {
    pub fn new(stream: UnixStream) -> FileReader {
        FileReader {
            stream,
            buf: Vec::new(),
            files: VecDeque::new(),
        }
    }

    /// Reads until one whole frame is buffered; `Ok(false)` at the end of the stream.
    fn fill(&mut self) -> Result<bool, ControlError> {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                    as usize;
                if len > MAX_FRAME {
                    return Err(ControlError::TooLarge(len));
                }
                if self.buf.len() >= 4 + len {
                    return Ok(true);
                }
            }
            let mut chunk = [0u8; 8192];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
            let mut control = RecvAncillaryBuffer::new(&mut space);
            let got = rustix::net::recvmsg(
                &self.stream,
                &mut [IoSliceMut::new(&mut chunk)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)?;
            for msg in control.drain() {
                if let RecvAncillaryMessage::ScmRights(fds) = msg {
                    self.files.extend(fds);
                }
            }
            if got.bytes == 0 {
                return Ok(false);
            }
            self.buf.extend_from_slice(&chunk[..got.bytes]);
        }
    }

    /// The next frame; `Ok(None)` at the end of the stream.
    pub fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ControlError> {
        if !self.fill()? {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        let body: Vec<u8> = self.buf.drain(..4 + len).skip(4).collect();
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| ControlError::Malformed(e.to_string()))
    }

    /// The file that came with the frame just read.
    pub fn take_file(&mut self) -> Result<OwnedFd, ControlError> {
        self.files.pop_front().ok_or(ControlError::NoFile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek;

    #[test]
    fn frames_carry_files_in_order() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p1 = dir.path().join("one");
        let p2 = dir.path().join("two");
        std::fs::write(&p1, b"first").unwrap();
        std::fs::write(&p2, b"second").unwrap();
        write_frame(&mut a, &Reply::Exists(true)).unwrap();
        write_frame_with_file(&a, &Reply::File, std::fs::File::open(&p1).unwrap()).unwrap();
        write_frame_with_file(&a, &Reply::File, std::fs::File::open(&p2).unwrap()).unwrap();
        drop(a);
        let mut r = FileReader::new(b);
        assert!(matches!(
            r.read::<Reply>().unwrap(),
            Some(Reply::Exists(true))
        ));
        for want in [&b"first"[..], b"second"] {
            assert!(matches!(r.read::<Reply>().unwrap(), Some(Reply::File)));
            let mut f = std::fs::File::from(r.take_file().unwrap());
            f.rewind().unwrap();
            let mut got = Vec::new();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(got, want);
        }
        assert!(r.read::<Reply>().unwrap().is_none());
        assert!(matches!(r.take_file(), Err(ControlError::NoFile)));
    }

    #[test]
    fn oversized_and_malformed_frames_are_refused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&(MAX_FRAME as u32 + 1).to_be_bytes()).unwrap();
        let mut r = FileReader::new(b);
        assert!(matches!(r.read::<Reply>(), Err(ControlError::TooLarge(_))));
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(&3u32.to_be_bytes()).unwrap();
        a.write_all(b"{{{").unwrap();
        let mut r = FileReader::new(b);
        assert!(matches!(r.read::<Reply>(), Err(ControlError::Malformed(_))));
    }
}
