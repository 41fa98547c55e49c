//! The client netcode against the real server over a loopback WebSocket, on protocol
//! version 2: a client drives `tickwire_shared::sync::netcode::Netcode` (with the arena's
//! prediction step) with the wall clock, the way the Bevy client and the bots do, against the
//! engine's arena room, and its prediction matches every acknowledged server state.

mod common;

use common::v2::hello_bytes;
use common::{TestServer, WAIT};
use glam::Vec2;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tickwire_arena::client::{ClientConfig, Intent, input_lanes, predict_step};
use tickwire_arena::quant::dequantize_pos;
use tickwire_arena::{BODY, body};
use tickwire_client::{Client, Received};
use tickwire_server::Config;
use tickwire_shared::sync::netcode::{Netcode, NetcodeConfig};
use tickwire_shared::sync::{ClientMsg, PROTOCOL_VERSION, ServerMsg, decode_server, encode_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_netcode_predicts_the_real_server_exactly() {
    let server = TestServer::start(Config {
        checksum_interval: 1,
        ..Config::ephemeral()
    })
    .await;
    let mut client = Client::connect(&server.ws_url(), WAIT).await.unwrap();
    client.send_bytes(hello_bytes("predictor")).await.unwrap();
    let welcome = match tokio::time::timeout(WAIT, client.recv_frame())
        .await
        .unwrap()
    {
        Received::Binary(b) => match decode_server(&b, None, &[]) {
            Ok(ServerMsg::Welcome(w)) => *w,
            other => panic!("expected a Welcome, got {other:?}"),
        },
        other => panic!("expected a Welcome, got {other:?}"),
    };
    assert_eq!(welcome.protocol_version, PROTOCOL_VERSION);
    let arena = ClientConfig::parse(&welcome.game_config).expect("the arena's config");
    let mut net = Netcode::new(
        &welcome,
        NetcodeConfig::new(&welcome),
        Some(Box::new(predict_step(&arena))),
    );
    let schema = welcome.schema.clone();
    let send = |msg| {
        let mut out = Vec::new();
        encode_client(&msg, &schema, &mut out);
        out
    };
    let start = Instant::now();
    let now = || start.elapsed().as_secs_f64();
    let mut send_tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(welcome.tick_rate)));
    let mut predicted_after: BTreeMap<u32, (i64, i64)> = BTreeMap::new();
    let (mut checks, mut mismatches, mut checksums, mut n) = (0, 0, 0, 0u32);
    let mut first_pos: Option<Vec2> = None;
    let mut moved = 0.0f32;
    let deadline = tokio::time::Instant::now() + WAIT;
    while checks < 60 {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => panic!("only {checks} acknowledged states"),
            _ = send_tick.tick() => {
                n += 1;
                // Circle round: both axes, analog values.
                let a = n as f32 * 0.1;
                let msg = net.make_input(input_lanes(&Intent {
                    movement: Vec2::from_angle(a),
                    aim: a,
                    ..Intent::default()
                }));
                let ClientMsg::Input(cmds) = &msg else { panic!("an input message") };
                let seq = cmds.last().expect("the new command").seq.0;
                if let Some(p) = net.owned(Some(BODY)).next().and_then(|me| net.predicted(me)) {
                    predicted_after.insert(seq, (p[body::x], p[body::y]));
                }
                client.send_bytes(send(msg)).await.unwrap();
                if let Some(ping) = net.poll_ping(now()) {
                    client.send_bytes(send(ping)).await.unwrap();
                }
                net.advance(now());
            }
            frame = client.recv_frame() => match frame {
                Received::Binary(bytes) => {
                    let msg = net.replica.decode(&bytes).expect("a v2 message");
                    net.handle_message(&msg, now()).expect("replica in step, checksum equal");
                    if let ServerMsg::Snapshot(s) = &msg {
                        checksums += u32::from(s.checksum.is_some());
                        let me = net.owned(Some(BODY)).next().expect("own body in view");
                        let l = &net.replica.entities[&me].lanes;
                        let pos = Vec2::new(dequantize_pos(l[body::x] as i32), dequantize_pos(l[body::y] as i32));
                        moved = moved.max(first_pos.get_or_insert(pos).distance(pos));
                        if let Some(want) = predicted_after.get(&s.ack_input_seq.0) {
                            checks += 1;
                            if *want != (l[body::x], l[body::y]) {
                                mismatches += 1;
                            }
                        }
                        predicted_after.retain(|seq, _| *seq > s.ack_input_seq.0);
                    }
                }
                other => panic!("{other:?}"),
            },
        }
    }
    assert_eq!(mismatches, 0, "of {checks}");
    assert!(moved > 50.0, "the body walked: {moved} units");
    let stats = net.stats();
    assert!(stats.corrections.len() >= 60, "{}", stats.corrections.len());
    assert!(
        stats.corrections.iter().all(|e| *e == 0.0),
        "{:?}",
        stats.corrections
    );
    assert!(checksums >= 60, "every snapshot checksummed: {checksums}");
    assert!(net.clock.rtt().is_some(), "a pong came back");
    assert!(net.clock.is_synced());
    server.stop().await;
}
