//! The client netcode against the real server over a loopback WebSocket: a client drives
//! `ClientNetcode` with the wall clock, the way the Bevy client and the bots do, and its
//! prediction matches every acknowledged server state.

mod common;

use common::*;
use glam::Vec2;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tickwire_client::Incoming;
use tickwire_server::Config;
use tickwire_shared::input::Intent;
use tickwire_shared::netcode::{ClientNetcode, NetcodeConfig};
use tickwire_shared::protocol::ServerMsg;
use tickwire_shared::quant::dequantize_pos;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_netcode_predicts_the_real_server_exactly() {
    let server = TestServer::start(Config::ephemeral()).await;
    let mut p = Player::join(&server.ws_url(), "predictor").await;
    let mut net = ClientNetcode::new(&p.welcome, NetcodeConfig::new(&p.welcome));
    let start = Instant::now();
    let now = || start.elapsed().as_secs_f64();
    let mut send_tick = tokio::time::interval(Duration::from_secs_f64(
        1.0 / f64::from(p.welcome.tick_rate),
    ));
    let mut predicted_after: BTreeMap<u32, Vec2> = BTreeMap::new();
    let (mut checks, mut mismatches, mut n) = (0, 0, 0u32);
    let deadline = tokio::time::Instant::now() + WAIT;
    while checks < 60 {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => panic!("only {checks} acknowledged states"),
            _ = send_tick.tick() => {
                n += 1;
                // Circle round: both axes, analog values.
                let a = n as f32 * 0.1;
                let frame = net.make_input(Intent {
                    move_x: (a.cos() * 127.0) as i8,
                    move_y: (a.sin() * 127.0) as i8,
                    ..Intent::default()
                });
                if let Some(pos) = net.prediction.predicted_position() {
                    predicted_after.insert(net.inputs.last_seq().0, pos);
                }
                p.client.send(&frame).await.unwrap();
                if let Some(ping) = net.poll_ping(now()) {
                    p.client.send(&ping).await.unwrap();
                }
                net.advance(now());
            }
            msg = p.client.recv() => match msg {
                Incoming::Msg(msg, _) => {
                    net.handle_message(&msg, now()).expect("replica in step");
                    if let ServerMsg::Snapshot(s) = &msg
                        && let (Some(want), Some(got)) =
                            (predicted_after.get(&s.ack_input_seq.0), net.replica.local_player())
                    {
                        checks += 1;
                        if *want != Vec2::new(dequantize_pos(got.x), dequantize_pos(got.y)) {
                            mismatches += 1;
                        }
                    }
                }
                other => panic!("{other:?}"),
            },
        }
    }
    assert_eq!(mismatches, 0, "of {checks}");
    assert!(net.stats().corrections.iter().all(|e| *e == 0.0));
    assert!(net.clock.rtt().is_some(), "a pong came back");
    assert!(net.clock.is_synced());
    server.stop().await;
}
