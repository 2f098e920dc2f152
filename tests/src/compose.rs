//! A Jilu stack of real containers (`docker-compose.yml` at the top of the
//! repository) for the chaos run: started under its own project name, driven with
//! `docker exec`, cut off with `docker network disconnect`, killed with SIGKILL, and
//! removed with its volumes when dropped.
//!
//! Works with docker-compose 1.29 (`docker-compose`) and v2 (`docker compose`):
//! containers and networks are found by their compose labels, not by the names
//! either version makes up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The repository's root (where docker-compose.yml is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}: {}", crate::text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A started stack; `Drop` takes it down with its volumes.
pub struct Stack {
    pub project: String,
    compose: Vec<String>,
}

impl Stack {
    /// `up -d` under project `project`, then waits until every long-running
    /// service reports healthy.
    pub fn up(project: &str, services: &[&str]) -> Stack {
        let compose = if run(Command::new("docker-compose").arg("version"))
            .status
            .success()
        {
            vec!["docker-compose".to_string()]
        } else {
            vec!["docker".to_string(), "compose".to_string()]
        };
        let s = Stack {
            project: project.to_string(),
            compose,
        };
        ok(s.compose().args(["up", "-d", "--no-build"]));
        for svc in services {
            s.wait_healthy(svc, Duration::from_secs(120));
        }
        s
    }

    fn compose(&self) -> Command {
        let mut c = Command::new(&self.compose[0]);
        c.args(&self.compose[1..])
            .arg("-p")
            .arg(&self.project)
            .arg("-f")
            .arg(repo_root().join("docker-compose.yml"))
            .env("JILU_BASE_IMAGE", "jilu-base:bookworm");
        c
    }

    /// The container of `service`.
    pub fn container(&self, service: &str) -> String {
        let out = ok(Command::new("docker").args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ]));
        let id = out.lines().next().unwrap_or("").trim().to_string();
        assert!(!id.is_empty(), "no container for {service}");
        id
    }

    /// The network compose made for `name` in this project.
    pub fn network(&self, name: &str) -> String {
        let out = ok(Command::new("docker").args([
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.network={name}"),
        ]));
        let id = out.lines().next().unwrap_or("").trim().to_string();
        assert!(!id.is_empty(), "no network {name}");
        id
    }

    pub fn health(&self, service: &str) -> String {
        let out = run(Command::new("docker").args([
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            &self.container(service),
        ]));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn wait_healthy(&self, service: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let h = self.health(service);
            if h == "healthy" {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{service} not healthy after {limit:?} ({h}): {}",
                self.logs(service)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn logs(&self, service: &str) -> String {
        crate::text(&run(Command::new("docker").args([
            "logs",
            "--tail",
            "40",
            &self.container(service),
        ])))
    }

    /// `docker exec` of `args` in `service`.
    pub fn exec(&self, service: &str, args: &[&str]) -> Output {
        run(Command::new("docker")
            .arg("exec")
            .arg(self.container(service))
            .args(args))
    }

    /// [`Stack::exec`] that must succeed; its stdout.
    pub fn exec_ok(&self, service: &str, args: &[&str]) -> String {
        let out = self.exec(service, args);
        assert!(
            out.status.success(),
            "{service}: {args:?}: {}",
            crate::text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An `edge-node` command at `service`, through its running node.
    pub fn edge(&self, service: &str, args: &[&str]) -> String {
        let mut all = vec!["edge-node"];
        all.extend_from_slice(args);
        self.exec_ok(service, &all)
    }

    /// JSON lines of a `center --json` command.
    pub fn center_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["center", "--config", "/var/lib/jilu/center.toml", "--json"];
        all.extend_from_slice(args);
        self.exec_ok("center", &all)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// Copies a host file into `service` at `to`.
    pub fn copy_in(&self, service: &str, from: &Path, to: &str) {
        ok(Command::new("docker")
            .arg("cp")
            .arg(from)
            .arg(format!("{}:{to}", self.container(service))));
    }

    /// Reads a file out of `service` (through `cat`: the container may be stopped
    /// for `docker cp`, never for this).
    pub fn read(&self, service: &str, path: &str) -> Vec<u8> {
        let out = self.exec(service, &["cat", path]);
        assert!(out.status.success(), "cat {path}: {}", crate::text(&out));
        out.stdout
    }

    pub fn disconnect(&self, service: &str, network: &str) {
        ok(Command::new("docker").args([
            "network",
            "disconnect",
            &self.network(network),
            &self.container(service),
        ]));
    }

    pub fn connect(&self, service: &str, network: &str) {
        ok(Command::new("docker").args([
            "network",
            "connect",
            "--alias",
            service,
            &self.network(network),
            &self.container(service),
        ]));
    }

    /// SIGKILL, as a power cut does.
    pub fn kill9(&self, service: &str) {
        ok(Command::new("docker").args(["kill", "-s", "KILL", &self.container(service)]));
    }

    pub fn start(&self, service: &str) {
        ok(Command::new("docker").args(["start", &self.container(service)]));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = run(self.compose().args(["down", "-v", "-t", "5"]));
    }
}
