//! Test support: start the real server on an ephemeral port, join clients, speak raw
//! WebSocket for hostile-input tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tickwire_client::{Client, Incoming};
use tickwire_server::{Config, Server};
use tickwire_shared::Replica;
use tickwire_shared::protocol::{ClientMsg, Hello, PROTOCOL_VERSION, ServerMsg, Snapshot, Welcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        let shutdown = CancellationToken::new();
        let server = Server::bind(config, shutdown.clone()).await.expect("bind");
        let addr = server.local_addr();
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            shutdown,
            task,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .unwrap();
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}

pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

pub fn hello(name: &str) -> ClientMsg {
    ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        name: name.into(),
        auth_token: None,
        resume_token: None,
    })
}

/// A joined client with its replica.
pub struct Player {
    pub client: Client,
    pub replica: Replica,
    pub welcome: Welcome,
    pub seq: u32,
    pub snapshots: u64,
}

impl Player {
    pub async fn join(url: &str, name: &str) -> Player {
        let mut client = Client::connect(url, WAIT).await.expect("connect");
        client.send(&hello(name)).await.unwrap();
        match client.recv_timeout(WAIT).await {
            Some(Incoming::Msg(ServerMsg::Welcome(w), _)) => Player {
                client,
                replica: Replica::new(&w),
                welcome: w,
                seq: 0,
                snapshots: 0,
            },
            other => panic!("expected Welcome, got {other:?}"),
        }
    }

    /// Receives until the next snapshot, applies it to the replica and returns it.
    pub async fn next_snapshot(&mut self) -> Snapshot {
        loop {
            match self.client.recv_timeout(WAIT).await {
                Some(Incoming::Msg(ServerMsg::Snapshot(s), _)) => {
                    self.replica
                        .apply(&s)
                        .unwrap_or_else(|e| panic!("replica rejected snapshot: {e}"));
                    self.snapshots += 1;
                    return s;
                }
                Some(Incoming::Msg(_, _)) => continue,
                other => panic!("expected a snapshot, got {other:?}"),
            }
        }
    }
}

/// A WebSocket spoken by hand, for inputs the real client would never send.
pub struct RawWs {
    pub stream: TcpStream,
}

impl RawWs {
    pub async fn connect(addr: SocketAddr) -> RawWs {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        RawWs { stream }
    }

    /// Writes a client frame (masked with a zero key, which leaves the payload as is).
    pub async fn frame(&mut self, opcode: u8, fin: bool, payload: &[u8]) {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let len = payload.len();
        if len < 126 {
            f.push(0x80 | len as u8);
        } else if len < 65536 {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(payload);
        let _ = self.stream.write_all(&f).await;
    }

    /// Reads server frames until the next binary message and returns its payload.
    pub async fn read_binary(&mut self) -> Option<Vec<u8>> {
        loop {
            let (opcode, payload) = self.read_frame().await?;
            if opcode == 0x2 {
                return Some(payload);
            }
        }
    }

    async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h).await.ok()?;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            self.stream.read_exact(&mut b).await.ok()?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            self.stream.read_exact(&mut b).await.ok()?;
            len = u64::from_be_bytes(b);
        }
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some((h[0] & 0x0f, payload))
    }

    /// Reads server frames until a close; returns its code and reason (None on EOF).
    pub async fn read_close(&mut self) -> Option<(u16, String)> {
        loop {
            let (opcode, payload) = self.read_frame().await?;
            if opcode == 0x8 {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                return Some((code, String::from_utf8_lossy(&payload[2..]).into_owned()));
            }
        }
    }
}
