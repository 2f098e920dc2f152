//! The CLI's side of the control socket: finds the running node, sends it the
//! command, prints what it prints, and opens the files it asks for with this
//! process's rights.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use super::{read_frame, socket_path, write_frame, write_frame_with_file, Frame, Hello, Reply};
use crate::cli::context::{Files, OwnFiles};
use crate::cli::output::{one_line, Sink};

/// Connects to the node running on `data_dir`; `None` when none runs (no socket,
/// or one left behind by a node that was killed).
pub fn connect(data_dir: &Path) -> Result<Option<UnixStream>> {
    let path = socket_path(data_dir);
    match UnixStream::connect(&path) {
        Ok(s) => Ok(Some(s)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "the node is running but its control socket {} is not open to you: run this as the node's service user or a member of its group",
            path.display()
        ),
        Err(e) => bail!("cannot reach the running node at {}: {e}", path.display()),
    }
}

/// The node running on `data_dir`, described for a message ("pid 123: edge-node
/// run --dock /srv/dock"), or `None`.
pub fn running_node(data_dir: &Path) -> Result<Option<String>> {
    let Some(stream) = connect(data_dir)? else {
        return Ok(None);
    };
    // SO_PEERCRED on a connected socket names the process that listens
    let pid = rustix::net::sockopt::socket_peercred(&stream)
        .map(|c| c.pid.as_raw_nonzero().get())
        .ok();
    Ok(Some(match pid {
        Some(pid) => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| {
                    b.split(|c| *c == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            format!("pid {pid}: {cmdline}")
        }
        None => format!(
            "its control socket {} answers",
            socket_path(data_dir).display()
        ),
    }))
}

/// Runs `hello`'s command in the node on the other end of `stream`: prints what
/// it prints into `sink`, answers its requests for files with this process's
/// rights, and passes the first Ctrl-C (`interrupted`) on as a cancellation.
/// Returns the command's exit status.
pub fn forward(
    stream: UnixStream,
    hello: &Hello,
    sink: &mut dyn Sink,
    interrupted: &AtomicBool,
) -> Result<u8> {
    let mut writer = stream.try_clone()?;
    write_frame(&mut writer, hello)?;
    let (frames_tx, frames) = mpsc::channel::<Result<Option<Frame>, String>>();
    let mut reader = stream;
    std::thread::Builder::new()
        .name("edge-control-reader".into())
        .spawn(move || loop {
            let got = read_frame::<Frame>(&mut reader).map_err(|e| e.to_string());
            let end = !matches!(got, Ok(Some(_)));
            if frames_tx.send(got).is_err() || end {
                return;
            }
        })?;
    let mut files = OwnFiles;
    let mut cancel_sent = false;
    loop {
        if interrupted.load(Ordering::SeqCst) && !cancel_sent {
            cancel_sent = true;
            let _ = write_frame(&mut writer, &Reply::Cancel);
        }
        let frame = match frames.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Some(f))) => f,
            Ok(Ok(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => bail!(
                "the running node stopped before the command finished: check the node's log, then run the command again"
            ),
            Ok(Err(e)) => return Err(anyhow!("the running node sent a bad frame: {e}")),
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
        };
        match frame {
            Frame::Print(p) => sink.print(p),
            Frame::Exit(code) => return Ok(code),
            Frame::Plan { paths } => match files.plan(&paths) {
                Ok(list) => write_frame(&mut writer, &Reply::Planned(list))?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
            Frame::OpenSource { path } => match files.open_source(&path) {
                Ok(f) => write_frame_with_file(&writer, &Reply::File, f)?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
            Frame::CreateNew { path } => match files.create_new(&path) {
                Ok(f) => write_frame_with_file(&writer, &Reply::File, f)?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
            Frame::Exists { path } => match files.exists(&path) {
                Ok(b) => write_frame(&mut writer, &Reply::Exists(b))?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
            Frame::Rename { from, to } => match files.rename(&from, &to) {
                Ok(()) => write_frame(&mut writer, &Reply::Done)?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
            Frame::Remove { path } => match files.remove(&path) {
                Ok(()) => write_frame(&mut writer, &Reply::Done)?,
                Err(e) => write_frame(&mut writer, &Reply::Failed(one_line(&e)))?,
            },
        }
    }
}
