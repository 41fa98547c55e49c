//! Cluster test support shared by `cluster.rs` and `nginx.rs`: a real `redis-server` on a free
//! loopback port and real `tickwire` binaries as nodes of one cluster, plus the small HTTP and
//! polling helpers their tests use. Included with `#[path = "common/cluster.rs"] mod ...;`.
//!
//! Needs `redis-server` on the PATH (Debian: `apt-get install redis-server`).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tickwire_client::GameClient;
use tickwire_shared::sync::{Hello, PROTOCOL_VERSION};

pub const SECRET: &str = "cluster-test-secret-of-at-least-32-bytes";
pub const ADMIN: &str = "cluster-test-admin-token";
pub const WAIT: Duration = Duration::from_secs(10);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Redis {
    pub port: u16,
    pub child: Child,
}

impl Redis {
    pub fn start() -> Redis {
        Self::on(free_port())
    }

    pub fn on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let r = Redis { port, child };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    pub child: Child,
}

impl Node {
    pub fn start(redis: &Redis, id: &str, extra: &[&str]) -> Node {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tickwire"))
            .args(["--addr", &addr.to_string(), "--db", "off", "--node", id])
            .args(["--redis", &redis.url(), "--cluster-secret", SECRET])
            .args(["--lease-ttl", "1500ms", "--admin-token", ADMIN])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the server binary runs");
        let mut n = Node {
            id: id.into(),
            addr,
            child,
        };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(addr).is_err() {
            if let Some(status) = n.child.try_wait().unwrap() {
                panic!("node {id} exited before listening ({status}); its stderr says why");
            }
            assert!(Instant::now() < deadline, "node {id} did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn match_url(&self) -> String {
        format!("http://{}/match", self.addr)
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http(self.addr, "GET", path, "").await
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request (with the admin token), the status and body.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

pub fn hello(name: &str, resume: Option<String>) -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        auth_token: None,
        resume_token: resume,
    }
}

/// The room a player was welcomed into (its resume token is `ROOM.SECRET`).
pub fn room_of(c: &GameClient) -> String {
    c.welcome
        .resume_token
        .split_once('.')
        .unwrap()
        .0
        .to_string()
}

/// Waits until `f` holds, polling.
pub async fn eventually<F: AsyncFnMut() -> bool>(what: &str, limit: Duration, mut f: F) {
    let deadline = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn keeps_playing(c: &mut GameClient, snapshots: usize) {
    for _ in 0..snapshots {
        let _ = c.ping(0).await;
        match c.next_snapshot(Duration::from_secs(3)).await {
            Ok(_) => {}
            Err(e) => panic!("the player stopped getting snapshots: {e}"),
        }
    }
}

/// The rooms `GET /rooms` at `addr` lists: (id, players, node).
pub async fn listed_at(addr: SocketAddr) -> Vec<(String, usize, String)> {
    let (status, body) = http(addr, "GET", "/rooms", "").await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["players"].as_u64().unwrap() as usize,
                r["node"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The rooms `/rooms` on `node` lists: (id, players, node).
pub async fn listed(node: &Node) -> Vec<(String, usize, String)> {
    listed_at(node.addr).await
}
