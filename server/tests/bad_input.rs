//! Bad input over real sockets: each case gets its own close code and reason, and a
//! well-behaved player in the same room (protocol version 2, the arena on the engine) keeps
//! receiving every snapshot. The attackers speak version 2 too, so those that say `Hello`
//! first join the watcher's room.

mod common;

use common::v2::{Player, encode, hello, hello_bytes};
use common::{RawWs, TestServer, WAIT};
use tickwire_server::Config;
use tickwire_server::net::RoomInfo;
use tickwire_shared::close::CloseCode;
use tickwire_shared::sync::{ClientMsg, Hello, InputCmd};
use tickwire_shared::{InputSeq, Tick};

const BINARY: u8 = 2;
const TEXT: u8 = 1;
const CONTINUATION: u8 = 0;

/// Runs `attack` on a raw connection while a normal player watches; checks the close code and
/// that the watcher's snapshots keep coming, tick after tick, with a correct replica.
async fn expect_close<F, Fut>(config: Config, want: u16, reason_has: &str, attack: F)
where
    F: FnOnce(RawWs) -> Fut,
    Fut: std::future::Future<Output = RawWs>,
{
    let server = TestServer::start(Config {
        checksum_interval: 1,
        ..config
    })
    .await;
    let mut watcher = Player::join(&server.ws_url(), "watcher").await;
    let first = watcher.next_snapshot().await.tick;
    assert_eq!(watcher.replica().players.len(), 1, "alone in a v2 room");
    let raw = RawWs::connect(server.addr).await;
    let mut raw = attack(raw).await;
    let (code, reason) = tokio::time::timeout(WAIT, raw.read_close())
        .await
        .expect("closed in time")
        .expect("close frame");
    assert_eq!(code, want, "reason: {reason}");
    assert!(
        reason.contains(reason_has),
        "{reason:?} should mention {reason_has:?}"
    );
    // The watcher got every tick in order (apply() rejects gaps in order only; check
    // contiguity here) and its replica checksums held.
    let mut last = first;
    for _ in 0..10 {
        let s = watcher.next_snapshot().await;
        assert_eq!(s.tick.0, last.0 + 1, "no tick skipped for the watcher");
        assert!(s.checked, "a checksum every tick, and it matched");
        last = s.tick;
    }
    assert!(watcher.body_of(watcher.id()).is_some());
    // Attackers that said Hello joined the watcher's room: one room, of version 2.
    let (_, rooms) = server.http_get("/rooms").await;
    let rooms: Vec<RoomInfo> = serde_json::from_str(&rooms).unwrap();
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0].game, "arena");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "tickwire_closes_total{{code=\"{want}\",initiator=\"server\"}} 1"
        )),
        "close counted:\n{metrics}"
    );
    server.stop().await;
}

fn joined_hello() -> Vec<u8> {
    hello_bytes("raw")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_frame_gets_1003() {
    expect_close(
        Config::ephemeral(),
        CloseCode::UnsupportedData.code(),
        "text frames",
        |mut ws| async move {
            ws.frame(TEXT, true, b"{\"hello\":1}").await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_gets_1009() {
    let config = Config {
        max_frame_bytes: 512,
        ..Config::ephemeral()
    };
    expect_close(
        config,
        CloseCode::MessageTooBig.code(),
        "size limit",
        |mut ws| async move {
            ws.frame(BINARY, true, &joined_hello()).await;
            ws.frame(BINARY, true, &vec![0u8; 513]).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_at_the_limit_is_accepted_but_fragments_over_it_get_1009() {
    let config = Config {
        max_frame_bytes: 512,
        ..Config::ephemeral()
    };
    expect_close(
        config,
        CloseCode::MessageTooBig.code(),
        "over 512 bytes",
        |mut ws| async move {
            ws.frame(BINARY, true, &joined_hello()).await;
            // A batch of inputs padded to exactly the limit is fine (it decodes: 1007 would say
            // otherwise)...
            let mut n = 1;
            let batch = loop {
                let cmds: Vec<InputCmd> = (1..=n)
                    .map(|s| InputCmd {
                        seq: InputSeq(s),
                        view_tick: Tick(0),
                        lanes: vec![0; tickwire_arena::input::COUNT],
                    })
                    .collect();
                let b = encode(&ClientMsg::Input(cmds));
                if b.len() > 512 - 8 {
                    break b;
                }
                n += 1;
            };
            assert!(batch.len() <= 512);
            ws.frame(BINARY, true, &batch).await;
            // ...but many small fragments adding up past it are not.
            ws.frame(BINARY, false, &[0u8; 200]).await;
            ws.frame(CONTINUATION, false, &[0u8; 200]).await;
            ws.frame(CONTINUATION, true, &[0u8; 200]).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_declared_length_gets_1009_without_allocating() {
    expect_close(
        Config::ephemeral(),
        CloseCode::MessageTooBig.code(),
        "size limit",
        |mut ws| async move {
            use tokio::io::AsyncWriteExt;
            // Header of a 2^62-byte binary frame, and no payload.
            let mut f = vec![0x82, 0x80 | 127];
            f.extend_from_slice(&(1u64 << 62).to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0]);
            ws.stream.write_all(&f).await.unwrap();
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_message_gets_1007() {
    expect_close(
        Config::ephemeral(),
        CloseCode::InvalidPayload.code(),
        "undecodable",
        |mut ws| async move {
            ws.frame(BINARY, true, &joined_hello()).await;
            ws.frame(BINARY, true, &[0xff, 0xfe, 0x01]).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_bytes_get_1007() {
    expect_close(
        Config::ephemeral(),
        CloseCode::InvalidPayload.code(),
        "trailing",
        |mut ws| async move {
            let mut b = joined_hello();
            b.push(0);
            ws.frame(BINARY, true, &b).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_protocol_version_gets_4000() {
    expect_close(
        Config::ephemeral(),
        CloseCode::VersionMismatch.code(),
        "protocol version 999 is not supported; this server speaks 5",
        |mut ws| async move {
            let h = ClientMsg::Hello(Hello {
                protocol_version: 999,
                ..hello("new")
            });
            ws.frame(BINARY, true, &encode(&h)).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_before_hello_gets_4001() {
    expect_close(
        Config::ephemeral(),
        CloseCode::HelloExpected.code(),
        "first message must be Hello",
        |mut ws| async move {
            let mut lanes = vec![0; tickwire_arena::input::COUNT];
            lanes[tickwire_arena::input::move_x] = 127;
            let i = ClientMsg::Input(vec![InputCmd {
                seq: InputSeq(1),
                view_tick: Tick(0),
                lanes,
            }]);
            ws.frame(BINARY, true, &encode(&i)).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_hello_gets_4001() {
    expect_close(
        Config::ephemeral(),
        CloseCode::HelloExpected.code(),
        "already",
        |mut ws| async move {
            ws.frame(BINARY, true, &joined_hello()).await;
            ws.frame(BINARY, true, &joined_hello()).await;
            ws
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hello_in_time_gets_4002() {
    let config = Config {
        hello_timeout: std::time::Duration::from_millis(300),
        ..Config::ephemeral()
    };
    expect_close(
        config,
        CloseCode::Timeout.code(),
        "no Hello",
        |ws| async move { ws },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_continuation_gets_1002() {
    expect_close(
        Config::ephemeral(),
        CloseCode::ProtocolError.code(),
        "continuation",
        |mut ws| async move {
            ws.frame(CONTINUATION, true, b"x").await;
            ws
        },
    )
    .await;
}
