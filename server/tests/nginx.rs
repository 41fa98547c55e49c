//! One real nginx in front of two real nodes, run with the example configuration
//! docs/nginx/tickwire.conf (its addresses replaced by loopback ports): players quick-matched
//! through the load balancer's `/ws` meet in one room, redirects and seat tickets send them
//! through the load balancer (`/n/NODE/ws`) to the room's node, `/rooms` through it lists the
//! room, and a resume sent through the other node's prefix is taken back on the room's node.
//!
//! Needs `nginx` and `redis-server` (Debian: `apt-get install nginx redis-server`).

#[path = "common/cluster.rs"]
mod cluster_common;

use cluster_common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tickwire_client::{GameClient, quick_match};

/// The example's addresses of node1 and node2, and its listen line.
const EXAMPLE_NODES: [&str; 2] = ["10.0.0.11:7000", "10.0.0.12:7000"];
const EXAMPLE_LISTEN: &str = "listen 80;";

/// docs/nginx/tickwire.conf with the nodes' and the load balancer's real addresses.
fn config_from_example(listen: SocketAddr, nodes: [SocketAddr; 2]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/nginx/tickwire.conf");
    let mut conf = std::fs::read_to_string(&path).expect("docs/nginx/tickwire.conf");
    for (example, real) in EXAMPLE_NODES.iter().zip(nodes) {
        assert!(conf.contains(example), "the example names {example}");
        conf = conf.replace(example, &real.to_string());
    }
    assert!(
        conf.contains(EXAMPLE_LISTEN),
        "the example has `{EXAMPLE_LISTEN}`"
    );
    conf.replace(EXAMPLE_LISTEN, &format!("listen {listen};"))
}

/// A real nginx with everything (config, logs, temp files, pid) under its own directory.
struct Nginx {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    fn start(port: u16, nodes: [SocketAddr; 2]) -> Nginx {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir =
            std::env::temp_dir().join(format!("tickwire-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        std::fs::write(dir.join("tickwire.conf"), config_from_example(addr, nodes)).unwrap();
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                "worker_processes 1;\n\
                 error_log {d}/error.log warn;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n\
                 \x20   access_log {d}/access.log;\n\
                 \x20   client_body_temp_path {d}/body;\n\
                 \x20   proxy_temp_path {d}/proxy;\n\
                 \x20   fastcgi_temp_path {d}/fastcgi;\n\
                 \x20   uwsgi_temp_path {d}/uwsgi;\n\
                 \x20   scgi_temp_path {d}/scgi;\n\
                 \x20   include {d}/tickwire.conf;\n\
                 }}\n"
            ),
        )
        .unwrap();
        let conf = dir.join("nginx.conf");
        let args = |cmd: &mut Command| {
            cmd.arg("-p")
                .arg(&dir)
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-g")
                .arg(format!("daemon off; pid {d}/nginx.pid;"))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        };
        // Debian puts nginx in /usr/sbin, which not every user has on the PATH.
        let child = ["nginx", "/usr/sbin/nginx"]
            .iter()
            .find_map(|bin| {
                let mut cmd = Command::new(bin);
                args(&mut cmd);
                cmd.spawn().ok()
            })
            .expect("nginx is not installed: this test runs a real nginx (apt-get install nginx)");
        let mut n = Nginx { addr, dir, child };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(addr).is_err() {
            if let Some(status) = n.child.try_wait().unwrap() {
                panic!("nginx exited ({status}): {}", n.log("error.log"));
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen: {}",
                n.log("error.log")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers (a SIGKILLed master would leave them serving).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_through_nginx_meet_in_one_room_on_its_node() {
    let redis = Redis::start();
    let lb_port = free_port();
    let lb = format!("127.0.0.1:{lb_port}");
    let public = |id: &str| format!("ws://{lb}/n/{id}/ws");
    let (p1, p2) = (public("node1"), public("node2"));
    let n1 = Node::start(&redis, "node1", &["--public-url", &p1]);
    let n2 = Node::start(&redis, "node2", &["--public-url", &p2]);
    let nginx = Nginx::start(lb_port, [n1.addr, n2.addr]);
    // Both nodes in the directory before the first match.
    tokio::time::sleep(Duration::from_millis(700)).await;

    // The page through the load balancer, and each node through its own prefix.
    let (status, page) = http(nginx.addr, "GET", "/", "").await;
    assert_eq!(status, 200);
    assert!(page.contains("<canvas"), "the arena's page: {page}");
    for id in ["node1", "node2"] {
        let (status, body) = http(nginx.addr, "GET", &format!("/n/{id}/healthz"), "").await;
        assert_eq!(status, 200, "/n/{id}/healthz: {body}");
    }

    // Four players quick-match on the load balancer's /ws (round-robin over both nodes).
    let mut players = Vec::new();
    for i in 0..4 {
        let c = GameClient::join(&format!("ws://{lb}/ws"), &format!("p{i}"), None, WAIT)
            .await
            .unwrap();
        players.push(c);
    }
    let room = room_of(&players[0]);
    let owner = room.rsplit_once('-').unwrap().0.to_string();
    assert!(owner == "node1" || owner == "node2", "{room}");
    let other = if owner == "node1" { "node2" } else { "node1" };
    let mut redirected = 0;
    for c in &players {
        assert_eq!(room_of(c), room, "the room fills before another opens");
        if c.redirects() > 0 {
            redirected += 1;
            // Sent on through the load balancer, to the room's node's prefix.
            let to = format!("ws://{lb}/n/{owner}/ws?");
            assert!(c.url().starts_with(&to), "{} (want {to}…)", c.url());
        } else {
            assert_eq!(c.url(), format!("ws://{lb}/ws"));
        }
    }
    eprintln!("room {room} on {owner}; {redirected} of the 4 were redirected");
    assert!(
        redirected >= 1,
        "round-robin sent some of the four to the node without the room"
    );
    for c in players.iter_mut() {
        keeps_playing(c, 3).await;
    }
    eventually("everyone sees the four", WAIT, async || {
        let c = &mut players[3];
        let _ = c.next_snapshot(Duration::from_secs(2)).await;
        c.replica.players.len() == 4
    })
    .await;

    // POST /match through the load balancer: a ticket for the same room, through the load
    // balancer to the room's node; joining with it goes straight there.
    let ticket = quick_match(&format!("http://{lb}/match"), None, WAIT)
        .await
        .unwrap();
    assert_eq!(ticket.room, room);
    assert_eq!(ticket.node, owner);
    assert_eq!(ticket.url, format!("ws://{lb}/n/{owner}/ws"));
    let mut fifth = GameClient::join_ticket(&ticket, hello("p4", None), WAIT)
        .await
        .unwrap();
    assert_eq!(room_of(&fifth), room);
    assert_eq!(fifth.redirects(), 0, "the ticket's URL is the room's node");
    keeps_playing(&mut fifth, 3).await;

    // /rooms through the load balancer (either node answers) lists the room.
    eventually(
        "the load balancer's /rooms lists the room",
        WAIT,
        async || listed_at(nginx.addr).await == [(room.clone(), 5, owner.clone())],
    )
    .await;

    // A resume sent through the other node's prefix is redirected, through the load
    // balancer, to the room's node, which takes the same player back.
    let token = players[0].welcome.resume_token.clone();
    let id = players[0].welcome.player_id;
    players.remove(0).abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = GameClient::join(&public(other), "p0", Some(token), WAIT)
        .await
        .unwrap();
    assert!(back.welcome.resumed, "the resume reached the room's node");
    assert_eq!(back.welcome.player_id, id);
    assert!(back.redirects() >= 1);
    assert!(
        back.url().starts_with(&format!("ws://{lb}/n/{owner}/ws")),
        "{}",
        back.url()
    );
    keeps_playing(&mut back, 3).await;

    // Operators' paths are not served through the load balancer.
    for path in ["/metrics", "/admin", &format!("/n/{owner}/metrics")] {
        assert_eq!(http(nginx.addr, "GET", path, "").await.0, 404, "{path}");
    }

    // All of it went through nginx: quick-matches on /ws, players at the room's prefix (nginx
    // logs a WebSocket when it closes, so everyone leaves first).
    for c in players.into_iter().chain([fifth, back]) {
        c.leave().await;
    }
    let want = [
        "\"GET /ws HTTP/1.1\" 101".to_string(),
        format!("\"GET /n/{owner}/ws?room={room}&seat="),
        format!("\"GET /n/{other}/ws HTTP/1.1\" 101"),
        "\"POST /match HTTP/1.1\" 200".to_string(),
        "\"GET /rooms HTTP/1.1\" 200".to_string(),
    ];
    eventually("nginx logged every kind of request", WAIT, async || {
        let log = nginx.log("access.log");
        want.iter().all(|w| log.contains(w.as_str()))
    })
    .await;
}
