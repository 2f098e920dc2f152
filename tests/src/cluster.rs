//! A city on one machine: a private CA (the real `certs` binary), a center process
//! on a free loopback port, and edges linked to it with freshly issued
//! certificates. Processes are real; killing one is `kill -9`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::{binary, Edge};

/// The city's CA folder, driven through the `certs` binary.
pub struct Ca {
    pub dir: PathBuf,
}

impl Ca {
    pub fn new(root: &Path) -> Ca {
        let ca = Ca {
            dir: root.join("ca"),
        };
        ca.ok(&["init"]);
        ca
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(binary("certs"))
            .arg("--dir")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run certs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "certs {args:?}: {}",
            crate::text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Issues a certificate; returns the folder holding `<node>.pem`, `.key`, `ca.pem`, `crl.pem`.
    pub fn issue(&self, node: &str, county: &str, role: &str) -> PathBuf {
        self.ok(&["issue", "--node", node, "--county", county, "--role", role]);
        self.dir.join("nodes").join(node)
    }

    pub fn revoke(&self, node: &str) {
        self.ok(&["revoke", node]);
    }

    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }
}

/// A free UDP port on loopback (bound and released; the center binds it next).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A free TCP port on loopback (bound and released; the center's API binds it next).
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running center.
pub struct Center {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub addr: SocketAddr,
    /// the HTTP API (plain HTTP on loopback), see [`crate::api`]
    pub http: SocketAddr,
    pub name: String,
    /// with [`Center::start_with`]: the center's log file (`JILU_LOG=info`)
    pub log: Option<PathBuf>,
    child: Option<Child>,
}

impl Center {
    /// Issues the center's certificate, writes its config and starts it.
    pub fn start(root: &Path, ca: &Ca) -> Center {
        Center::start_with(root, ca, "", false)
    }

    /// [`Center::start`], with `extra` appended to `center.toml` (e.g. a `[limits]`
    /// section) and, with `logged`, the center's log (at `info`) written to
    /// `center/center.log` instead of the test's stderr.
    pub fn start_with(root: &Path, ca: &Ca, extra: &str, logged: bool) -> Center {
        let name = "center-city".to_string();
        let certs = ca.issue(&name, "4104", "center");
        let dir = root.join("center");
        std::fs::create_dir_all(dir.join("certs")).expect("mkdir");
        for f in ["center-city.pem", "center-city.key", "ca.pem"] {
            std::fs::copy(certs.join(f), dir.join("certs").join(f)).expect("copy cert");
        }
        std::fs::copy(ca.crl(), dir.join("certs/crl.pem")).expect("copy crl");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let http: SocketAddr = format!("127.0.0.1:{}", free_tcp_port())
            .parse()
            .expect("addr");
        let config = dir.join("center.toml");
        std::fs::write(
            &config,
            format!(
                "node = \"{name}\"\nlisten = \"{addr}\"\ndata_dir = \"data\"\n[tls]\ncert = \"certs/center-city.pem\"\nkey = \"certs/center-city.key\"\nca = \"certs/ca.pem\"\ncrl = \"certs/crl.pem\"\ncrl_reload_secs = 1\n[http]\nlisten = \"{http}\"\n[accounts]\nhash_memory_kib = 8\nhash_passes = 1\n{extra}\n"
            ),
        )
        .expect("write config");
        let log = logged.then(|| dir.join("center.log"));
        let mut c = Center {
            dir,
            config,
            addr,
            http,
            name,
            log,
            child: None,
        };
        c.restart();
        c
    }

    /// Starts (again) and waits until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "center already running");
        let mut child = Command::new(binary("center"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("JILU_LOG", if self.log.is_some() { "info" } else { "warn" })
            .stdout(Stdio::piped())
            .stderr(match &self.log {
                Some(p) => Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .expect("center log"),
                ),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("spawn center");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the center did not start");
        assert!(line.contains("listening on"), "{line}");
        self.child = Some(child);
    }

    /// Whether the center process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The child's process id (for memory figures from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Installs the CA's current CRL (the running center re-reads it within a second).
    pub fn install_crl(&self, ca: &Ca) {
        let tmp = self.dir.join("certs/.crl.tmp");
        std::fs::copy(ca.crl(), &tmp).expect("copy crl");
        std::fs::rename(&tmp, self.dir.join("certs/crl.pem")).expect("install crl");
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(binary("center"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("JILU_LOG", "error")
            .output()
            .expect("run center")
    }

    /// Runs a center command whose stdout is a pipe already closed by its reader.
    pub fn run_into_closed_pipe(&self, args: &[&str]) -> Output {
        let mut child = Command::new(binary("center"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("JILU_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run center");
        drop(child.stdout.take());
        child.wait_with_output().expect("wait for center")
    }

    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "center {args:?}: {}",
            crate::text(&out)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    /// Verified items: every one must be on disk and hash to its name.
    pub fn verified_items(&self) -> Vec<Value> {
        let items = self.json(&["items"]);
        for i in &items {
            let hash = i["item"]["hash"].as_str().expect("hash");
            let path = self.dir.join("data/blobs").join(&hash[..2]).join(hash);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "verified item {hash} has no blob at {}: {e}",
                    path.display()
                )
            });
            assert_eq!(
                blake3::hash(&bytes).to_hex().as_str(),
                hash,
                "blob {hash} does not hash to its name"
            );
        }
        items
    }

    /// Documents a county's edge syncs: name → sorted heads.
    pub fn docs(&self, county: &str) -> std::collections::BTreeMap<String, Value> {
        self.json(&["docs", "--county", county])
            .into_iter()
            .map(|d| {
                (
                    d["name"].as_str().expect("name").to_string(),
                    d["heads"].clone(),
                )
            })
            .collect()
    }
}

impl Drop for Center {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Edge {
    /// Gives this edge a certificate for its county and points it at `center`.
    pub fn link(&self, ca: &Ca, center: &Center, county: &str, extra: &str) {
        let node = self.node();
        let certs = ca.issue(&node, county, "edge");
        self.install_certs(&certs, &node);
        self.set_center(&center.addr.to_string(), &center.name, &node, extra);
    }

    pub fn install_certs(&self, from: &Path, node: &str) {
        std::fs::create_dir_all(self.dir.join("certs")).expect("mkdir");
        for f in [
            format!("{node}.pem"),
            format!("{node}.key"),
            "ca.pem".to_string(),
        ] {
            std::fs::copy(from.join(&f), self.dir.join("certs").join(&f)).expect("copy");
        }
    }

    /// Writes the `[center]` section (replacing an earlier one).
    pub fn set_center(&self, addr: &str, name: &str, cert_node: &str, extra: &str) {
        let path = self.dir.join("edge.toml");
        let text = std::fs::read_to_string(&path).expect("edge.toml");
        let base = text
            .split("\n[center]\n")
            .next()
            .unwrap_or_default()
            .to_string();
        let section = format!(
            "\n[center]\naddr = \"{addr}\"\nname = \"{name}\"\ncert = \"certs/{cert_node}.pem\"\nkey = \"certs/{cert_node}.key\"\nca = \"certs/ca.pem\"\nidle_timeout_ms = 3000\nkeepalive_ms = 500\nbackoff_cap_ms = 1000\n{extra}\n"
        );
        std::fs::write(&path, base + &section).expect("write edge.toml");
    }

    pub fn node(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("edge.toml")).expect("edge.toml");
        text.lines()
            .find_map(|l| {
                l.strip_prefix("node = ")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .expect("node")
    }

    /// `sync --once`, returning the JSON report (the command must succeed).
    pub fn sync_once(&self) -> Value {
        self.json(&["sync", "--once"]).pop().expect("sync report")
    }

    /// Documents this edge holds: name → sorted heads.
    pub fn docs(&self) -> std::collections::BTreeMap<String, Value> {
        self.json(&["docs"])
            .into_iter()
            .map(|d| {
                (
                    d["name"].as_str().expect("name").to_string(),
                    d["heads"].clone(),
                )
            })
            .collect()
    }
}

/// The invariants every sync scenario ends with: every item the center calls
/// verified is on its disk and hashes to its name ([`Center::verified_items`]),
/// every item the edge calls verified is at the center with the same size, and
/// both sides hold identical documents (those of `county` and the city's).
pub fn assert_converged(center: &Center, edge: &Edge, county: &str) {
    let at_center: std::collections::BTreeMap<String, u64> = center
        .verified_items()
        .iter()
        .map(|i| {
            (
                i["item"]["hash"].as_str().expect("hash").to_string(),
                i["item"]["size"].as_u64().expect("size"),
            )
        })
        .collect();
    for item in edge.items() {
        let hash = item["hash"].as_str().expect("hash");
        if item["center_verified_at"].is_number() {
            let size = at_center.get(hash).unwrap_or_else(|| {
                panic!("edge says {hash} is verified but the center does not hold it")
            });
            assert_eq!(
                Some(*size),
                item["size"].as_u64(),
                "{hash}: the center's record has another size"
            );
        }
    }
    assert_eq!(
        edge.docs()
            .into_iter()
            .filter(|(n, _)| jilu_common::sync::visible_to(n, county))
            .collect::<std::collections::BTreeMap<_, _>>(),
        center.docs(county),
        "documents differ"
    );
}
