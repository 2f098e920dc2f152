//! The running node's side of the control socket: accepts CLI connections, reads
//! who is on the other end, and runs each command on a thread of its own with the
//! node's open store, forwarding what it prints and asking the CLI for the user's
//! files.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tracing::{debug, info, warn};

use super::{socket_path, write_frame, FileReader, Frame, Hello, Reply, CONTROL_VERSION};
use crate::cli::context::{Ctx, Files, Node};
use crate::cli::output::{one_line, Out, Print, Sink};
use crate::service::Service;

/// Binds the control socket in `dir` (a socket left by a node that was killed is
/// replaced: the caller holds the store, so no other node can be using it).
pub fn bind(dir: &Path) -> Result<tokio::net::UnixListener> {
    let path = socket_path(dir);
    match std::fs::remove_file(&path) {
        Ok(()) => debug!("replaced a stale control socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("cannot replace {}: {e}", path.display()),
    }
    let listener = tokio::net::UnixListener::bind(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidInput {
            anyhow!(
                "cannot create the control socket {}: the path is too long for a Unix socket (at most 107 bytes): use a shorter data directory",
                path.display()
            )
        } else {
            anyhow!("cannot create the control socket {}: {e}", path.display())
        }
    })?;
    // the service's group may send commands; nobody else
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(listener)
}

/// Accepts connections until the node stops, then waits for the commands in
/// flight (which see the stop as a cancellation).
pub async fn serve(listener: tokio::net::UnixListener, service: Arc<Service>) {
    let mut running: Vec<std::thread::JoinHandle<()>> = Vec::new();
    loop {
        let accepted = tokio::select! {
            _ = service.stop.cancelled() => break,
            a = listener.accept() => a,
        };
        running.retain(|t| !t.is_finished());
        // the command thread reads and writes blocking: tokio's socket is not
        let stream = match accepted
            .and_then(|(s, _)| s.into_std())
            .and_then(|s| s.set_nonblocking(false).map(|()| s))
        {
            Ok(s) => s,
            Err(e) => {
                warn!("control socket: {e}");
                continue;
            }
        };
        let svc = service.clone();
        let spawned = std::thread::Builder::new()
            .name("edge-command".into())
            .spawn(move || {
                if let Err(e) = handle(stream, &svc) {
                    debug!("control connection: {e:#}");
                }
            });
        match spawned {
            Ok(t) => running.push(t),
            Err(e) => warn!("control socket: cannot start a command thread: {e}"),
        }
    }
    drop(listener);
    let _ = tokio::task::spawn_blocking(move || {
        for t in running {
            let _ = t.join();
        }
    })
    .await;
}

/// The OS user on the other end of a connection, as written in the audit log.
fn peer(stream: &UnixStream) -> String {
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) => {
            let uid = cred.uid.as_raw();
            match user_name(uid) {
                Some(name) => format!("uid {uid} ({name}), pid {}", cred.pid.as_raw_nonzero()),
                None => format!("uid {uid}, pid {}", cred.pid.as_raw_nonzero()),
            }
        }
        Err(e) => format!("unknown peer ({e})"),
    }
}

/// The login name of `uid`, from the password database.
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _ = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

fn handle(stream: UnixStream, service: &Service) -> Result<()> {
    let via = peer(&stream);
    let mut writer = stream.try_clone()?;
    let mut reader = FileReader::new(stream);
    let Some(hello) = reader.read::<Hello>()? else {
        return Ok(());
    };
    if hello.version != CONTROL_VERSION {
        let line = format!(
            "error: the running node is edge-node {} (control protocol {CONTROL_VERSION}) and this command is {} (protocol {}): run the node's own edge-node binary, or restart the node after the upgrade",
            env!("CARGO_PKG_VERSION"),
            hello.software,
            hello.version
        );
        write_frame(&mut writer, &Frame::Print(Print::Err(line)))?;
        write_frame(&mut writer, &Frame::Exit(1))?;
        return Ok(());
    }
    info!(command = %hello.command.name(), actor = %hello.actor, %via, "command from the control socket");

    // Replies come from a reader of their own, which also notices Ctrl-C and a
    // CLI that went away while the command runs.
    let cancelled = Arc::new(AtomicBool::new(false));
    let (replies_tx, replies) = mpsc::channel::<(Reply, Option<File>)>();
    let flag = cancelled.clone();
    std::thread::Builder::new()
        .name("edge-command-reader".into())
        .spawn(move || loop {
            match reader.read::<Reply>() {
                Ok(Some(Reply::Cancel)) | Ok(None) | Err(_) => {
                    flag.store(true, Ordering::SeqCst);
                    return;
                }
                Ok(Some(Reply::File)) => {
                    let file = reader.take_file().ok().map(File::from);
                    if replies_tx.send((Reply::File, file)).is_err() {
                        return;
                    }
                }
                Ok(Some(r)) => {
                    if replies_tx.send((r, None)).is_err() {
                        return;
                    }
                }
            }
        })?;

    let stop = service.stop.clone();
    let cancel = move || cancelled.load(Ordering::SeqCst) || stop.is_cancelled();
    let mut sink = Remote {
        stream: writer.try_clone()?,
    };
    let mut files = RemoteFiles {
        stream: writer.try_clone()?,
        replies,
        cancel: &cancel,
    };
    let code = run_command(
        service,
        Asked {
            actor: jilu_common::subject::Actor::new(&hello.actor, Some(via)),
            json: hello.json,
            command: &hello.command,
        },
        &mut sink,
        &mut files,
        &cancel,
    );
    write_frame(&mut writer, &Frame::Exit(code))?;
    Ok(())
}

/// A command someone asked the running node for, and who.
#[derive(Debug)]
pub struct Asked<'a> {
    pub actor: jilu_common::subject::Actor,
    pub json: bool,
    pub command: &'a crate::cli::Command,
}

/// Runs one command in the node with its open store, as for a CLI on the
/// control socket (and for the office page's forms): the same handler, the same
/// store transactions that serialise it with the node's own work, the same
/// `error: ...` line into `sink` on failure. Returns the exit status.
pub fn run_command(
    service: &Service,
    asked: Asked<'_>,
    sink: &mut dyn Sink,
    files: &mut dyn Files,
    cancel: &dyn Fn() -> bool,
) -> u8 {
    let mut ctx = Ctx {
        out: Out::new(asked.json, sink),
        actor: asked.actor,
        node: Node::Running(service.edge.clone()),
        files,
        cancel,
        service: Some(service),
    };
    match crate::cli::exec(&mut ctx, asked.command) {
        Ok(code) => code,
        Err(e) => {
            ctx.out.note(format!("error: {}", one_line(&e)));
            1
        }
    }
}

/// Prints into the CLI on the other end.
struct Remote {
    stream: UnixStream,
}

impl Sink for Remote {
    fn print(&mut self, p: Print) {
        // a CLI that went away is noticed by the reader (and cancels the command)
        let _ = write_frame(&mut self.stream, &Frame::Print(p));
    }
}

/// The user's files, opened by the CLI on the other end.
struct RemoteFiles<'a> {
    stream: UnixStream,
    replies: mpsc::Receiver<(Reply, Option<File>)>,
    cancel: &'a dyn Fn() -> bool,
}

impl RemoteFiles<'_> {
    fn ask(&mut self, frame: &Frame) -> Result<(Reply, Option<File>)> {
        write_frame(&mut self.stream, frame)
            .map_err(|e| anyhow!("the command's terminal went away: {e}"))?;
        loop {
            match self.replies.recv_timeout(Duration::from_millis(100)) {
                Ok((Reply::Failed(why), _)) => return Err(anyhow!(why)),
                Ok(r) => return Ok(r),
                Err(mpsc::RecvTimeoutError::Timeout) if !(self.cancel)() => {}
                Err(_) => bail!("cancelled"),
            }
        }
    }

    fn file(&mut self, frame: &Frame) -> Result<File> {
        match self.ask(frame)? {
            (Reply::File, Some(f)) => Ok(f),
            _ => bail!("the CLI did not send the file"),
        }
    }
}

impl Files for RemoteFiles<'_> {
    fn plan(&mut self, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        match self.ask(&Frame::Plan {
            paths: paths.to_vec(),
        })? {
            (Reply::Planned(files), _) => Ok(files),
            _ => bail!("the CLI did not list the files"),
        }
    }
    fn open_source(&mut self, path: &Path) -> Result<File> {
        self.file(&Frame::OpenSource {
            path: path.to_path_buf(),
        })
    }
    fn exists(&mut self, path: &Path) -> Result<bool> {
        match self.ask(&Frame::Exists {
            path: path.to_path_buf(),
        })? {
            (Reply::Exists(b), _) => Ok(b),
            _ => bail!("the CLI did not answer"),
        }
    }
    fn create_new(&mut self, path: &Path) -> Result<File> {
        self.file(&Frame::CreateNew {
            path: path.to_path_buf(),
        })
    }
    fn rename(&mut self, from: &Path, to: &Path) -> Result<()> {
        self.ask(&Frame::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        })
        .map(|_| ())
    }
    fn remove(&mut self, path: &Path) -> Result<()> {
        self.ask(&Frame::Remove {
            path: path.to_path_buf(),
        })
        .map(|_| ())
    }
    /// The CLI's path may name nothing here (another mount namespace, a private
    /// /tmp under systemd): only the descriptor it passed is watched.
    fn watch(&self) -> crate::ingest::Watch {
        crate::ingest::Watch::Descriptor
    }
}
