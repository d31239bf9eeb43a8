//! What the binary's end-to-end tests share: running `dinhdanh`, starting and stopping the
//! demo, and small HTTP helpers.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn dinhdanh() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    command
        .env_remove("DINHDANH_MASTER_KEY")
        .env("RUST_LOG", "warn");
    command
}

pub struct Demo {
    pub child: Child,
    pub base: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `dinhdanh demo` on plain HTTP and waits for its `listening on` line.
pub fn start_demo(data_dir: &Path, people: usize) -> Demo {
    start_demo_with(data_dir, people, &["--plain-http"])
}

/// Starts `dinhdanh demo` with extra arguments and waits for its `listening on` line.
pub fn start_demo_with(data_dir: &Path, people: usize, extra: &[&str]) -> Demo {
    let mut child = dinhdanh()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--people",
            &people.to_string(),
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(base) = line.strip_prefix("listening on ") {
                let _ = sender.send(base.to_owned());
            }
        }
    });
    let base = receiver
        .recv_timeout(Duration::from_secs(120))
        .expect("demo did not start");
    Demo { child, base }
}

/// GETs a URL (with a bearer token if given) and parses the JSON answer.
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> serde_json::Value {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

pub fn token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("demo-operator.token"))
        .unwrap()
        .trim()
        .to_owned()
}

pub fn run_in(data: &Path, args: &[&str]) -> (bool, String, String) {
    let output = dinhdanh()
        .args(args)
        .env("DINHDANH_DATA_DIR", data)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
