//! Many nodes through one Redis: a real `redis-server` on a free loopback port and two or
//! three real `tickwire` binaries, players over real sockets.
//!
//! Needs `redis-server` on the PATH (Debian: `apt-get install redis-server`; `.ci/run` and
//! `scripts/test.sh` install it).

#[path = "common/cluster.rs"]
mod cluster_common;

use cluster_common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use tickwire_client::{GameClient, GameEvent, quick_match};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_match_fills_rooms_across_the_cluster_and_lists_them_everywhere() {
    let redis = Redis::start();
    let nodes: Vec<Node> = ["qa", "qb", "qc"]
        .iter()
        .map(|id| Node::start(&redis, id, &["--max-players", "4"]))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut players = Vec::new();
    for i in 0..10 {
        // Ask a different node each time: the cluster decides, not the node asked.
        let ticket = quick_match(&nodes[i % 3].match_url(), None, WAIT)
            .await
            .unwrap();
        let c = GameClient::join_ticket(&ticket, hello(&format!("p{i}"), None), WAIT)
            .await
            .unwrap();
        assert_eq!(room_of(&c), ticket.room);
        players.push(c);
    }
    let mut per_room = std::collections::BTreeMap::<String, usize>::new();
    for c in &players {
        *per_room.entry(room_of(c)).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_room.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        [2, 4, 4],
        "rooms fill before new ones open: {per_room:?}"
    );
    let hosts: std::collections::BTreeSet<&str> = per_room
        .keys()
        .map(|r| r.rsplit_once('-').unwrap().0)
        .collect();
    assert!(
        hosts.len() >= 2,
        "new rooms go to the least-loaded node: {per_room:?}"
    );
    // Every node lists the whole cluster's rooms, with their players and nodes.
    for n in &nodes {
        eventually("the listing catches up", WAIT, async || {
            let mut rows = listed(n).await;
            rows.sort();
            let want: Vec<(String, usize, String)> = per_room
                .iter()
                .map(|(r, p)| (r.clone(), *p, r.rsplit_once('-').unwrap().0.to_string()))
                .collect();
            rows == want
        })
        .await;
    }
    // Paged: a page of 2 and a cursor to the rest.
    let (_, body) = nodes[0].get("/rooms?limit=2").await;
    let page: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(page.len(), 2);
    let after = page[1]["id"].as_str().unwrap();
    let (_, body) = nodes[0].get(&format!("/rooms?limit=2&after={after}")).await;
    let rest: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(rest.len(), 1);
    // A plain quick-match on /ws (no ticket) joins the open room with 2 free seats, wherever
    // it is, asked of any node.
    let open = per_room.iter().find(|(_, n)| **n == 2).unwrap().0.clone();
    // A seat just taken counts against its room for one lease (1.5 s here), until the node's
    // renewal surely counts its player: wait that out.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    for n in &nodes[1..] {
        let c = GameClient::join(&n.ws(), "walk-in", None, WAIT)
            .await
            .unwrap();
        assert_eq!(room_of(&c), open, "asked {}", n.id);
        players.push(c);
    }
    for c in players.iter_mut().take(3) {
        keeps_playing(c, 3).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_the_wrong_node_is_sent_to_the_room_and_resumes_there() {
    let redis = Redis::start();
    let a = Node::start(&redis, "wa", &[]);
    let b = Node::start(&redis, "wb", &[]);
    // A named room made on a.
    let first = GameClient::join(&format!("{}?room=lobby", a.ws()), "ann", None, WAIT)
        .await
        .unwrap();
    // Asked of b: the client is redirected to a and plays in the same room.
    let mut second = GameClient::join(&format!("{}?room=lobby", b.ws()), "bob", None, WAIT)
        .await
        .unwrap();
    assert_eq!(room_of(&second), "lobby");
    eventually("bob sees ann", WAIT, async || {
        let _ = second.next_snapshot(Duration::from_secs(2)).await;
        second.replica.players.len() == 2
    })
    .await;
    // The same name asked of b again does not make a second room "lobby" on b.
    let (_, body) = b.get("/rooms").await;
    assert_eq!(body.matches("\"lobby\"").count(), 1, "{body}");
    // Ann drops and comes back through b with her token: resumed on a.
    let token = first.welcome.resume_token.clone();
    let ann_id = first.welcome.player_id;
    first.abort();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let back = GameClient::join(&b.ws(), "ann", Some(token), WAIT)
        .await
        .unwrap();
    assert!(back.welcome.resumed, "the resume reached the room's node");
    assert_eq!(back.welcome.player_id, ann_id);
    // A matchmade room id names its node: asked of the other node, the client is sent there.
    let t = quick_match(&a.match_url(), None, WAIT).await.unwrap();
    let owner = t.room.rsplit_once('-').unwrap().0.to_string();
    let other = if owner == "wa" { &b } else { &a };
    let url = format!("{}?room={}&seat={}", other.ws(), t.room, t.seat);
    let c = GameClient::join(&url, "carl", None, WAIT).await.unwrap();
    assert_eq!(room_of(&c), t.room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_reach_every_node_and_a_direct_message_one_player() {
    let redis = Redis::start();
    let a = Node::start(&redis, "ma", &[]);
    let b = Node::start(&redis, "mb", &[]);
    let mut pa = GameClient::join(&format!("{}?room=ra", a.ws()), "on-a", None, WAIT)
        .await
        .unwrap();
    let mut pb = GameClient::join(&format!("{}?room=rb", b.ws()), "on-b", None, WAIT)
        .await
        .unwrap();
    let mut pb2 = GameClient::join(&format!("{}?room=rb", b.ws()), "on-b-2", None, WAIT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = http(
        a.addr,
        "POST",
        "/admin/api/announce",
        r#"{"text":"server restart at noon"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for p in [&mut pa, &mut pb, &mut pb2] {
        assert!(
            got_notice(p, "server restart at noon").await,
            "an announcement made on a reaches every player"
        );
    }
    // A direct message sent through a reaches one player of b's room, not its neighbour.
    let to = pb.welcome.player_id.0;
    let msg = format!(r#"{{"room":"rb","player":{to},"text":"just for you"}}"#);
    let (status, body) = http(a.addr, "POST", "/admin/api/message", &msg).await;
    assert_eq!(status, 200, "{body}");
    assert!(got_notice(&mut pb, "just for you").await);
    assert!(!got_notice(&mut pb2, "just for you").await);
    // The operator's overview on a shows both nodes, and b's room with its players.
    let (status, body) = a.get("/admin/api/overview").await;
    assert_eq!(status, 200, "{body}");
    let o: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = o["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ma", "mb"], "{body}");
    let rb = o["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "rb")
        .expect("b's room");
    assert_eq!(rb["node"], "mb");
    let mut names: Vec<&str> = rb["player_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["on-b", "on-b-2"], "{body}");
    // A kick asked of a removes a player of b's room.
    let kick = format!(r#"{{"room":"rb","player":{}}}"#, pb2.welcome.player_id.0);
    let (status, body) = http(a.addr, "POST", "/admin/api/kick", &kick).await;
    assert_eq!(status, 200, "{body}");
    let closed = pb2.client().wait_closed(WAIT).await.expect("kicked");
    assert_eq!(closed.0, Some(1008), "{closed:?}");
    // To a room nowhere: a clear 404.
    let (status, body) = http(
        a.addr,
        "POST",
        "/admin/api/message",
        r#"{"room":"nowhere","player":1,"text":"x"}"#,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no room nowhere"), "{body}");
}

/// Whether a notice with `text` arrives within 2 s (the text is somewhere in an event).
async fn got_notice(p: &mut GameClient, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Some(GameEvent::Snapshot { events, .. }) =
            p.recv_timeout(Duration::from_millis(500)).await
            && events
                .iter()
                .any(|e| e.values.iter().any(|v| v.str().contains(text)))
        {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_the_directory_within_its_lease_while_the_others_play() {
    let redis = Redis::start();
    let a = Node::start(&redis, "ka", &[]);
    let mut b = Node::start(&redis, "kb", &[]);
    let mut pa = GameClient::join(&format!("{}?room=stay", a.ws()), "stays", None, WAIT)
        .await
        .unwrap();
    let _pb = GameClient::join(&format!("{}?room=doomed", b.ws()), "doomed", None, WAIT)
        .await
        .unwrap();
    eventually("both rooms listed", WAIT, async || {
        listed(&a).await.len() == 2
    })
    .await;
    b.signal("-KILL");
    b.wait_exit(WAIT).expect("killed");
    let killed = Instant::now();
    eventually(
        "b's room leaves the directory",
        Duration::from_secs(3),
        async || listed(&a).await.iter().all(|(id, _, _)| id != "doomed"),
    )
    .await;
    let gone_after = killed.elapsed();
    assert!(
        gone_after <= Duration::from_millis(2500),
        "within the 1.5 s lease (+ polling): {gone_after:?}"
    );
    let mut r = redis.conn().await;
    let exists: bool = redis::cmd("EXISTS")
        .arg("tw:node:kb")
        .query_async(&mut r)
        .await
        .unwrap();
    assert!(!exists, "b's node lease ran out");
    keeps_playing(&mut pa, 4).await;
    // Matches now only go to a.
    for _ in 0..3 {
        let t = quick_match(&a.match_url(), None, WAIT).await.unwrap();
        assert!(t.room.starts_with("ka-"), "{}", t.room);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_node_its_room_plays_to_the_end_and_new_matches_go_elsewhere() {
    let redis = Redis::start();
    let mut a = Node::start(&redis, "da", &["--drain-timeout", "30s"]);
    let b = Node::start(&redis, "db", &[]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // A player in a matchmade room on a.
    let mut on_a = None;
    let mut others = Vec::new();
    for i in 0..4 {
        let t = quick_match(&a.match_url(), None, WAIT).await.unwrap();
        let c = GameClient::join_ticket(&t, hello(&format!("p{i}"), None), WAIT)
            .await
            .unwrap();
        if t.room.starts_with("da-") && on_a.is_none() {
            on_a = Some(c);
        } else {
            others.push(c);
        }
    }
    let mut on_a = on_a.expect("one of the first matches opened a room on a");
    others.clear();
    a.signal("-TERM");
    eventually("a is not ready", WAIT, async || {
        a.get("/readyz").await.0 == 503
    })
    .await;
    assert_eq!(a.get("/healthz").await.0, 200, "alive while draining");
    // New matches, asked of either node, go to b.
    for n in [&a, &b] {
        let t = quick_match(&n.match_url(), None, WAIT).await.unwrap();
        assert!(t.room.starts_with("db-"), "asked {}: {}", n.id, t.room);
    }
    let (_, metrics) = a.get("/metrics").await;
    assert!(metrics.contains("tickwire_cluster_draining 1"), "{metrics}");
    // The room plays on.
    keeps_playing(&mut on_a, 5).await;
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "a waits for its players"
    );
    // Its last player leaves: a stops by itself.
    on_a.leave().await;
    let status = a
        .wait_exit(Duration::from_secs(15))
        .expect("a exits once empty");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_game_games_go_on_and_the_directory_comes_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let a = Node::start(&redis, "ra", &[]);
    let b = Node::start(&redis, "rb", &[]);
    let mut pa = GameClient::join(&format!("{}?room=alpha", a.ws()), "pa", None, WAIT)
        .await
        .unwrap();
    let mut pb = GameClient::join(&format!("{}?room=beta", b.ws()), "pb", None, WAIT)
        .await
        .unwrap();
    eventually("both listed", WAIT, async || listed(&a).await.len() == 2).await;
    redis.kill();
    keeps_playing(&mut pa, 4).await;
    keeps_playing(&mut pb, 4).await;
    eventually("a sees Redis gone", WAIT, async || {
        a.get("/metrics")
            .await
            .1
            .contains("tickwire_cluster_redis_up 0")
    })
    .await;
    let (status, body) = http(a.addr, "POST", "/match", "").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis"), "{body}");
    // A local room still takes players on its node.
    let _more = GameClient::join(&format!("{}?room=alpha", a.ws()), "late", None, WAIT)
        .await
        .unwrap();
    // Redis comes back empty: the directory is rebuilt from the live nodes.
    let redis = Redis::on(port);
    let back = Instant::now();
    eventually("the directory is back", WAIT, async || {
        let mut rows = listed(&b).await;
        rows.sort();
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>() == ["alpha", "beta"]
    })
    .await;
    eprintln!(
        "directory rebuilt {:?} after Redis restarted",
        back.elapsed()
    );
    assert!(
        a.get("/metrics")
            .await
            .1
            .contains("tickwire_cluster_redis_up 1"),
        "a reconnected by itself"
    );
    let t = quick_match(&b.match_url(), None, WAIT).await.unwrap();
    GameClient::join_ticket(&t, hello("after", None), WAIT)
        .await
        .unwrap();
    keeps_playing(&mut pa, 5).await;
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_reused_seat_tokens_are_refused() {
    let redis = Redis::start();
    let a = Node::start(&redis, "sa", &["--seat-ttl", "1s"]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let refused = async |url: String| match GameClient::join(&url, "x", None, WAIT).await {
        Err(tickwire_client::JoinError::Refused { code, reason }) => (code, reason),
        Ok(_) => panic!("joined with {url}"),
        Err(e) => panic!("{e}"),
    };
    // Signed with another key.
    let forged = tickwire_server::cluster::seats::SeatSigner::new(Some(
        "not-the-cluster-secret-but-32-bytes-long",
    ))
    .issue("sa-1", "sa", "s", Duration::from_secs(30))
    .0;
    let (code, reason) = refused(format!("{}?room=sa-1&seat={forged}", a.ws())).await;
    assert_eq!(code, Some(4004), "{reason}");
    assert!(reason.contains("forged"), "{reason}");
    // Expired.
    let t = quick_match(&a.match_url(), None, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let url = format!("{}?room={}&seat={}", a.ws(), t.room, t.seat);
    let mut client = tickwire_client::Client::connect(&url, WAIT).await.unwrap();
    let mut bytes = Vec::new();
    tickwire_shared::sync::encode_client(
        &tickwire_shared::sync::ClientMsg::Hello(hello("late", None)),
        &tickwire_shared::schema::Schema::new(""),
        &mut bytes,
    );
    client.send_bytes(bytes).await.unwrap();
    let (code, reason) = client.wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(4008), "{reason}");
    // Used twice: the second gets 4008 from the directory.
    let t = quick_match(&a.match_url(), None, WAIT).await.unwrap();
    let _first = GameClient::join_ticket(&t, hello("one", None), WAIT)
        .await
        .unwrap();
    let url = format!("{}?room={}&seat={}", a.ws(), t.room, t.seat);
    let mut client = tickwire_client::Client::connect(&url, WAIT).await.unwrap();
    let mut bytes = Vec::new();
    tickwire_shared::sync::encode_client(
        &tickwire_shared::sync::ClientMsg::Hello(hello("two", None)),
        &tickwire_shared::schema::Schema::new(""),
        &mut bytes,
    );
    client.send_bytes(bytes).await.unwrap();
    let (code, reason) = client.wait_closed(WAIT).await.expect("closed");
    assert_eq!(code, Some(4008), "{reason}");
    assert!(reason.contains("already taken"), "{reason}");
}

#[test]
fn a_node_whose_redis_does_not_answer_does_not_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["--addr", "127.0.0.1:0", "--db", "off"])
        .args(["--redis", &format!("redis://127.0.0.1:{}/0", free_port())])
        .args(["--cluster-secret", SECRET])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach Redis"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--db",
            "off",
            "--redis",
            "redis://127.0.0.1:1/0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--cluster-secret"), "{err}");
}
