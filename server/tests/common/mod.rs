//! Test support: start the real server on an ephemeral port, join clients (protocol version 2,
//! in [`v2`]), speak raw WebSocket for hostile-input tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tickwire_server::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(10);

/// An HS256 token for account `acct-NAME` signed with `secret`, expiring `exp_offset` seconds
/// from now (negative: already expired).
pub fn jwt(secret: &str, name: &str, exp_offset: i64) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = tickwire_server::auth::Claims {
        sub: format!("acct-{name}"),
        name: Some(name.into()),
        exp: (now + exp_offset) as u64,
        nbf: None,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

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

/// Whether the server closed `s` within `limit` (EOF or reset) rather than keeping it open;
/// reads and discards whatever comes meanwhile.
pub async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// This process's resident memory (`VmRSS` of `/proc/self/status`), KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A GET with `Connection: close`: the status and the body. A connection the server refused
/// or reset before answering is status 0, with the error as the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if let Err(e) = s.write_all(request.as_bytes()).await {
        return (0, e.to_string());
    }
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("an answer in time");
    if let (Err(e), true) = (read, buf.is_empty()) {
        return (0, e.to_string());
    }
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

/// Protocol version 2: the engine's arena rooms, which every test here plays. A
/// [`Player`](v2::Player) is a joined [`GameClient`](tickwire_client::GameClient) with the
/// arena's lane indices, looked up by name in the schema its `Welcome` carried.
pub mod v2 {
    use super::WAIT;
    use glam::Vec2;
    pub use tickwire_client::{GameClient, GameEvent};
    use tickwire_shared::schema::{FieldDesc, FieldType, Schema};
    use tickwire_shared::sync::replica::Changes;
    use tickwire_shared::sync::{
        ClientMsg, Event, Hello, PROTOCOL_VERSION, Replica, Welcome, encode_client,
    };
    use tickwire_shared::{InputSeq, NetId, PlayerId, Tick};

    /// A version-2 `Hello` with a name and nothing else.
    pub fn hello(name: &str) -> Hello {
        Hello {
            protocol_version: PROTOCOL_VERSION,
            name: name.into(),
            auth_token: None,
            resume_token: None,
        }
    }

    /// A client message encoded with the arena's schema, for raw sockets.
    pub fn encode(msg: &ClientMsg) -> Vec<u8> {
        let mut out = Vec::new();
        encode_client(msg, &tickwire_arena::schema(), &mut out);
        out
    }

    /// [`hello`] encoded, for raw sockets.
    pub fn hello_bytes(name: &str) -> Vec<u8> {
        encode(&ClientMsg::Hello(hello(name)))
    }

    fn index(fields: &[FieldDesc], name: &str) -> usize {
        fields
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name:?} in the schema"))
    }

    fn kind(schema: &Schema, name: &str) -> u16 {
        schema
            .kinds
            .iter()
            .position(|k| k.name == name)
            .unwrap_or_else(|| panic!("no kind {name:?} in the schema")) as u16
    }

    /// Where the arena keeps what the tests read and write, by name from a schema.
    #[derive(Debug, Clone)]
    pub struct Arena {
        /// Kind of bodies.
        pub body: u16,
        /// Kind of projectiles.
        pub projectile: u16,
        /// Body lanes.
        pub player: usize,
        pub x: usize,
        pub y: usize,
        pub health: usize,
        pub alive: usize,
        /// `Fixed` scale of body positions.
        pub pos_scale: f32,
        /// Player-record lanes.
        pub kills: usize,
        pub deaths: usize,
        /// Input lanes.
        pub move_x: usize,
        pub move_y: usize,
        pub aim: usize,
        pub buttons: usize,
        pub input_lanes: usize,
        /// Event kind of `kill { killer, victim }`.
        pub kill: u16,
    }

    impl Arena {
        pub fn of(schema: &Schema) -> Arena {
            assert_eq!(schema.game, "arena");
            let body = kind(schema, "body");
            let fields = &schema.kinds[usize::from(body)].fields;
            let x = index(fields, "x");
            let FieldType::Fixed(scale) = fields[x].ty else {
                panic!("body.x is not fixed-point: {:?}", fields[x].ty)
            };
            let kill = schema
                .events
                .iter()
                .position(|e| e.name == "kill")
                .expect("a kill event") as u16;
            Arena {
                body,
                projectile: kind(schema, "projectile"),
                player: index(fields, "player"),
                x,
                y: index(fields, "y"),
                health: index(fields, "health"),
                alive: index(fields, "alive"),
                pos_scale: f32::from(scale),
                kills: index(&schema.player_fields, "kills"),
                deaths: index(&schema.player_fields, "deaths"),
                move_x: index(&schema.input, "move_x"),
                move_y: index(&schema.input, "move_y"),
                aim: index(&schema.input, "aim"),
                buttons: index(&schema.input, "buttons"),
                input_lanes: schema.input.len(),
                kill,
            }
        }

        /// One input command's lanes.
        pub fn input(&self, move_x: i8, move_y: i8, aim: u16, buttons: u8) -> Vec<i64> {
            let mut lanes = vec![0; self.input_lanes];
            lanes[self.move_x] = i64::from(move_x);
            lanes[self.move_y] = i64::from(move_y);
            lanes[self.aim] = i64::from(aim);
            lanes[self.buttons] = i64::from(buttons);
            lanes
        }

        /// The body of `player` in `replica`: (id, lanes).
        pub fn body_of<'a>(
            &self,
            replica: &'a Replica,
            player: PlayerId,
        ) -> Option<(NetId, &'a [i64])> {
            replica
                .of_kind(self.body)
                .find(|(_, l)| l[self.player] == i64::from(player.0))
        }

        /// A body's position in world units.
        pub fn pos(&self, lanes: &[i64]) -> Vec2 {
            Vec2::new(
                lanes[self.x] as f32 / self.pos_scale,
                lanes[self.y] as f32 / self.pos_scale,
            )
        }
    }

    /// A snapshot as [`GameClient`] returned it, already applied to the replica (whose
    /// checksum matched, when it carried one).
    #[derive(Debug)]
    pub struct Snap {
        pub tick: Tick,
        pub changes: Changes,
        pub events: Vec<Event>,
        pub checked: bool,
        pub bytes: usize,
    }

    /// A joined version-2 client of an arena room.
    pub struct Player {
        pub client: GameClient,
        pub arena: Arena,
        /// The seq of the newest command sent (0: none yet).
        pub seq: InputSeq,
        pub snapshots: u64,
    }

    impl Player {
        pub async fn join(url: &str, name: &str) -> Player {
            let client = GameClient::join(url, name, None, WAIT)
                .await
                .unwrap_or_else(|e| panic!("{name} did not join: {e}"));
            Player::of(client)
        }

        /// Joins with a `Hello` of one's own (a resume token, an auth token) on a client.
        pub async fn join_on(client: tickwire_client::Client, hello: Hello) -> Player {
            let client = GameClient::join_on(client, hello, WAIT)
                .await
                .unwrap_or_else(|e| panic!("no join: {e}"));
            Player::of(client)
        }

        pub fn of(client: GameClient) -> Player {
            assert_eq!(client.welcome.protocol_version, PROTOCOL_VERSION);
            Player {
                arena: Arena::of(&client.welcome.schema),
                client,
                seq: InputSeq(0),
                snapshots: 0,
            }
        }

        pub fn welcome(&self) -> &Welcome {
            &self.client.welcome
        }

        pub fn replica(&self) -> &Replica {
            &self.client.replica
        }

        pub fn id(&self) -> PlayerId {
            self.client.welcome.player_id
        }

        /// Receives until the next snapshot (pongs skipped) and returns it; anything else (a
        /// checksum that differs, a close, nothing in time) fails the test.
        pub async fn next_snapshot(&mut self) -> Snap {
            match self.client.next_snapshot(WAIT).await {
                Ok(GameEvent::Snapshot {
                    tick,
                    changes,
                    events,
                    checked,
                    bytes,
                }) => {
                    self.snapshots += 1;
                    Snap {
                        tick,
                        changes,
                        events,
                        checked,
                        bytes,
                    }
                }
                Ok(other) => panic!("expected a snapshot, got {other:?}"),
                Err(e) => panic!("expected a snapshot, got {e}"),
            }
        }

        /// Sends one command (with the unacknowledged ones before it), viewed at the
        /// replica's tick.
        pub async fn send_input(&mut self, lanes: Vec<i64>) {
            let view = self.client.replica.tick;
            self.seq = self
                .client
                .send_input(view, lanes)
                .await
                .expect("connection open");
        }

        /// The body of `player` in this client's replica: (id, lanes).
        pub fn body_of(&self, player: PlayerId) -> Option<(NetId, &[i64])> {
            self.arena.body_of(&self.client.replica, player)
        }

        /// Where this client sees `player`'s body.
        pub fn pos_of(&self, player: PlayerId) -> Option<Vec2> {
            self.body_of(player).map(|(_, l)| self.arena.pos(l))
        }

        /// A player-record lane by the arena's index.
        pub fn record(&self, player: PlayerId, lane: usize) -> Option<i64> {
            self.client
                .replica
                .players
                .get(&player)
                .map(|p| p.lanes[lane])
        }
    }
}

/// A WebSocket spoken by hand, for inputs the real client would never send.
pub struct RawWs {
    pub stream: TcpStream,
}

impl RawWs {
    pub async fn connect(addr: SocketAddr) -> RawWs {
        RawWs::upgrade(TcpStream::connect(addr).await.unwrap(), "/ws").await
    }

    /// A WebSocket whose receive buffer is a few KiB: when it stops reading, the server's
    /// writes to it block soon (and the room starts skipping its ticks).
    pub async fn connect_small_window(addr: SocketAddr) -> RawWs {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.set_recv_buffer_size(4096).unwrap();
        RawWs::upgrade(s.connect(addr).await.unwrap(), "/ws").await
    }

    /// Speaks the WebSocket upgrade for `path` on a connected stream and checks the 101.
    pub async fn upgrade(mut stream: TcpStream, path: &str) -> RawWs {
        stream
            .write_all(
                format!(
                    "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                )
                .as_bytes(),
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

    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
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

/// Well-behaved players that play in one room while an attack runs, each in its own task,
/// moving every tick and checking every snapshot. [`Witnesses::finish`] fails the test if any
/// of them missed a tick, saw a checksum that did not match (the server must run with
/// `checksum_interval: 1` and an outbox of a few seconds, e.g. `outbox_capacity: 128`), waited
/// more than a second for a snapshot, or lost its body.
pub struct Witnesses {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<Witnessed>>,
}

/// What one witness saw.
#[derive(Debug, Clone)]
pub struct Witnessed {
    pub name: String,
    /// Snapshots received, every one of them the tick after the one before.
    pub snapshots: u64,
    /// The longest wait between two snapshots.
    pub max_gap: Duration,
    /// The player id, and the room's tick at the end.
    pub player: tickwire_shared::PlayerId,
    pub last_tick: u32,
}

impl Witnesses {
    /// Joins `n` witnesses at `url` (a `/ws` URL, with `?room=` for a named room) and waits
    /// for each one's first snapshot.
    pub async fn join(url: &str, n: usize) -> Witnesses {
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        for i in 0..n {
            let name = format!("witness{i}");
            let mut p = v2::Player::join(url, &name).await;
            let first = p.next_snapshot().await.tick;
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut last = first;
                let mut at = std::time::Instant::now();
                let mut max_gap = Duration::ZERO;
                let mut n = 0u32;
                loop {
                    n += 1;
                    let move_x = if (n / 40).is_multiple_of(2) {
                        100
                    } else {
                        -100
                    };
                    let lanes = p.arena.input(move_x, 40, (n * 500) as u16, 0);
                    p.send_input(lanes).await;
                    let s = tokio::select! {
                        s = p.next_snapshot() => s,
                        _ = stop.cancelled() => break,
                    };
                    let now = std::time::Instant::now();
                    max_gap = max_gap.max(now - at);
                    at = now;
                    assert_eq!(s.tick.0, last.0 + 1, "{name} missed a snapshot");
                    assert!(s.checked, "{name}: a checksum every tick, and it matched");
                    last = s.tick;
                }
                assert!(p.body_of(p.id()).is_some(), "{name} still has its body");
                Witnessed {
                    name,
                    snapshots: u64::from(last.0 - first.0),
                    max_gap,
                    player: p.id(),
                    last_tick: last.0,
                }
            }));
        }
        Witnesses { stop, tasks }
    }

    /// Stops the witnesses and checks what they saw: every tick, no gap over a second.
    pub async fn finish(self) -> Vec<Witnessed> {
        self.stop.cancel();
        let mut seen = Vec::new();
        for t in self.tasks {
            let w = tokio::time::timeout(WAIT, t)
                .await
                .expect("a witness stops in time")
                .expect("a witness saw every tick, checked");
            assert!(w.snapshots > 0, "{} received snapshots", w.name);
            assert!(
                w.max_gap < Duration::from_secs(1),
                "{} waited {:?} for a snapshot",
                w.name,
                w.max_gap
            );
            seen.push(w);
        }
        seen
    }
}

/// Clients the server sees at another address: Linux routes all of 127/8 over loopback, so a
/// client socket bound to 127.0.0.2 (or .3, .4…) before it connects counts as another IP.
pub mod from_ip {
    use super::{RawWs, WAIT, v2};
    use std::net::{IpAddr, SocketAddr};
    use tickwire_client::game::JoinError;
    use tickwire_client::{Client, GameClient};
    use tokio::net::{TcpSocket, TcpStream};

    /// `127.0.0.N`.
    pub fn loopback(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    /// A TCP connection to `addr` from `ip`.
    pub async fn tcp(addr: SocketAddr, ip: IpAddr) -> TcpStream {
        let s = TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::new(ip, 0)).unwrap();
        s.connect(addr).await.unwrap()
    }

    /// A raw WebSocket at `path` (`/ws`, `/ws?room=ID`), upgraded from `ip`, nothing said yet.
    pub async fn raw(addr: SocketAddr, ip: IpAddr, path: &str) -> RawWs {
        RawWs::upgrade(tcp(addr, ip).await, path).await
    }

    /// A `GameClient` join from `ip` with a `Hello` of one's own; the refusal if refused.
    pub async fn try_join(
        url: &str,
        ip: IpAddr,
        hello: tickwire_shared::sync::Hello,
    ) -> Result<GameClient, JoinError> {
        let client = Client::connect_from(url, ip, WAIT).await?;
        GameClient::join_on(client, hello, WAIT).await
    }

    /// A player joined from `ip`.
    pub async fn player(url: &str, ip: IpAddr, name: &str) -> v2::Player {
        let c = try_join(url, ip, v2::hello(name))
            .await
            .unwrap_or_else(|e| panic!("{name} did not join from {ip}: {e}"));
        v2::Player::of(c)
    }
}

impl RawWs {
    /// Reads server frames until a binary message (`Ok`, its payload) or a close (`Err`, its
    /// code and reason); `None` at EOF.
    pub async fn read_binary_or_close(&mut self) -> Option<Result<Vec<u8>, (u16, String)>> {
        loop {
            let (opcode, payload) = self.read_frame().await?;
            match opcode {
                0x2 => return Some(Ok(payload)),
                0x8 if payload.len() >= 2 => {
                    let code = u16::from_be_bytes([payload[0], payload[1]]);
                    let reason = String::from_utf8_lossy(&payload[2..]).into_owned();
                    return Some(Err((code, reason)));
                }
                0x8 => return Some(Err((1005, String::new()))),
                _ => {}
            }
        }
    }
}
