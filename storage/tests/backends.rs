//! The storage layer against both real backends: an SQLite file in a temp dir, and a real
//! PostgreSQL server started by the test (its own data dir, a loopback port). Each check runs
//! the same body on both: migrations from empty, results written, leaderboard order, seasons,
//! `around`, the same match id written twice counted once, the outbox, a newer schema refused.

use tickwire_storage::testing::{PgServer, TempDir};
use tickwire_storage::{MatchRecord, Options, PlayerResult, Storage, StorageError};

/// A fresh database of each backend: (name, storage, its temp dir), and the test's own
/// PostgreSQL server (stopped and removed when dropped).
async fn backends(tag: &str) -> (PgServer, Vec<(&'static str, Storage, TempDir)>) {
    let dir = TempDir::new(tag);
    let sqlite = Storage::open(&Options::new(dir.path().join("t.db").display().to_string()))
        .await
        .expect("sqlite opens");
    let pg = PgServer::start();
    let url = pg.create_db(tag);
    let pdir = TempDir::new(tag);
    let mut o = Options::new(url);
    o.outbox = pdir.path().join("outbox.db");
    let postgres = Storage::open(&o).await.expect("postgres opens");
    (
        pg,
        vec![("sqlite", sqlite, dir), ("postgres", postgres, pdir)],
    )
}

fn player(id: &str, score: i64, kills: i64, deaths: i64) -> PlayerResult {
    PlayerResult {
        player: Some(id.to_string()),
        name: format!("name-{id}"),
        score,
        stats: vec![("kills".into(), kills), ("deaths".into(), deaths)],
    }
}

fn result(id: &str, season: &str, players: Vec<PlayerResult>) -> MatchRecord {
    MatchRecord {
        match_id: id.to_string(),
        game: "arena".into(),
        room: "main".into(),
        node: "test".into(),
        season: season.to_string(),
        started_at_ms: 1_000,
        ended_at_ms: 61_000,
        players,
    }
}

fn values(b: &tickwire_storage::Leaderboard) -> Vec<(i64, &str, i64)> {
    b.rows
        .iter()
        .map(|r| (r.rank, r.player.as_str(), r.value))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_written_once_and_ranked() {
    let (_pg, dbs) = backends("ranked").await;
    for (name, s, _keep) in dbs {
        assert_eq!(
            s.leaderboard("arena", "kills", "", 10, None)
                .await
                .unwrap()
                .total,
            0,
            "{name}: migrated from empty"
        );
        let m1 = result(
            "m1",
            "s1",
            vec![
                player("a", 5, 5, 1),
                player("b", 3, 3, 2),
                PlayerResult {
                    player: None,
                    name: "anon".into(),
                    score: 9,
                    stats: vec![],
                },
            ],
        );
        s.enqueue(&m1).await.unwrap();
        assert_eq!(s.pending().await.unwrap(), vec![m1.clone()], "{name}");
        assert!(s.deliver(&m1).await.unwrap(), "{name}: first write");
        assert!(
            s.pending().await.unwrap().is_empty(),
            "{name}: outbox empty"
        );
        // The same match again (a replay after a crash between commit and outbox delete).
        s.enqueue(&m1).await.unwrap();
        assert!(
            !s.deliver(&m1).await.unwrap(),
            "{name}: second write is a no-op"
        );
        assert_eq!(s.match_count("m1").await.unwrap(), (1, 3), "{name}");
        let b = s.leaderboard("arena", "kills", "", 10, None).await.unwrap();
        assert_eq!(
            values(&b),
            vec![(1, "a", 5), (2, "b", 3)],
            "{name}: counted once"
        );
        assert_eq!(b.rows[0].name, "name-a");

        // A second match, in another season: all-time adds up, seasons apart.
        let m2 = result("m2", "s2", vec![player("b", 4, 4, 0), player("c", 1, 1, 4)]);
        s.enqueue(&m2).await.unwrap();
        assert!(s.deliver(&m2).await.unwrap());
        let all = s.leaderboard("arena", "kills", "", 10, None).await.unwrap();
        assert_eq!(
            values(&all),
            vec![(1, "b", 7), (2, "a", 5), (3, "c", 1)],
            "{name}"
        );
        let s1 = s
            .leaderboard("arena", "kills", "s1", 10, None)
            .await
            .unwrap();
        assert_eq!(values(&s1), vec![(1, "a", 5), (2, "b", 3)], "{name}");
        let s2 = s
            .leaderboard("arena", "kills", "s2", 10, None)
            .await
            .unwrap();
        assert_eq!(values(&s2), vec![(1, "b", 4), (2, "c", 1)], "{name}");
        let deaths = s
            .leaderboard("arena", "deaths", "", 10, None)
            .await
            .unwrap();
        assert_eq!(
            values(&deaths),
            vec![(1, "c", 4), (2, "b", 2), (3, "a", 1)],
            "{name}"
        );
        let matches = s
            .leaderboard("arena", "matches", "", 10, None)
            .await
            .unwrap();
        assert_eq!(
            values(&matches),
            vec![(1, "b", 2), (2, "a", 1), (3, "c", 1)],
            "{name}: ties by id"
        );
        assert_eq!(s.matches("arena").await.unwrap(), vec!["m1", "m2"]);
        let (pname, created, seen) = s.player("b").await.unwrap().expect("b exists");
        assert_eq!(pname, "name-b");
        assert!(created <= seen, "{name}");
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn around_a_player_pages_the_board() {
    let (_pg, dbs) = backends("around").await;
    for (name, s, _keep) in dbs {
        // 20 players with kills 20, 19, …, 1: p00 is first.
        let players = (0..20)
            .map(|i| player(&format!("p{i:02}"), 20 - i, 20 - i, 0))
            .collect();
        let m = result("big", "", players);
        s.enqueue(&m).await.unwrap();
        s.deliver(&m).await.unwrap();
        let top = s.leaderboard("arena", "kills", "", 3, None).await.unwrap();
        assert_eq!(top.total, 20);
        assert_eq!(
            values(&top),
            vec![(1, "p00", 20), (2, "p01", 19), (3, "p02", 18)],
            "{name}"
        );
        let mid = s
            .leaderboard("arena", "kills", "", 5, Some("p10"))
            .await
            .unwrap();
        assert_eq!(
            mid.rows.iter().map(|r| r.rank).collect::<Vec<_>>(),
            vec![9, 10, 11, 12, 13],
            "{name}: centred on rank 11"
        );
        assert_eq!(mid.rows[2].player, "p10");
        let first = s
            .leaderboard("arena", "kills", "", 5, Some("p00"))
            .await
            .unwrap();
        assert_eq!(first.rows[0].rank, 1, "{name}: clamped at the top");
        let last = s
            .leaderboard("arena", "kills", "", 5, Some("p19"))
            .await
            .unwrap();
        assert_eq!(
            last.rows.iter().map(|r| r.rank).collect::<Vec<_>>(),
            vec![16, 17, 18, 19, 20],
            "{name}: clamped at the bottom"
        );
        let nobody = s
            .leaderboard("arena", "kills", "", 2, Some("zz"))
            .await
            .unwrap();
        assert_eq!(nobody.rows[0].rank, 1, "{name}: unknown player, the top");
        s.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_and_reopening_is_a_no_op() {
    let (pg, dbs) = backends("newer").await;
    for (name, s, keep) in dbs {
        let target = s.target().to_string();
        s.seen("guest:x", "x").await.unwrap();
        s.close().await;
        // Reopen: the migrations are applied already, the data is still there.
        let mut o = Options::new(if name == "sqlite" {
            keep.path().join("t.db").display().to_string()
        } else {
            target.clone()
        });
        o.outbox = keep.path().join("outbox.db");
        let s = Storage::open(&o).await.expect("reopens");
        assert_eq!(s.player("guest:x").await.unwrap().unwrap().0, "x");
        s.close().await;
        // A later tickwire applied migration 99.
        let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                   execution_time) VALUES (99, 'from the future', true, X'00', 0)";
        if name == "sqlite" {
            let s = sqlx::SqlitePool::connect(&format!("sqlite:{}", o.url))
                .await
                .unwrap();
            sqlx::query(sql).execute(&s).await.unwrap();
            s.close().await;
        } else {
            pg.psql("newer", &sql.replace("X'00'", "'\\x00'::bytea"));
        }
        match Storage::open(&o).await {
            Err(e @ StorageError::NewerSchema { found: 99, .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("schema version 99"), "{name}: {msg}");
                assert!(msg.contains("newer than this build's 1"), "{name}: {msg}");
            }
            Err(e) => panic!("{name}: wrong error {e}"),
            Ok(_) => panic!("{name}: a newer schema must be refused"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = Options::new(format!("postgres://tw:hunter2@127.0.0.1:{port}/x"));
    o.acquire_timeout = std::time::Duration::from_secs(2);
    let dir = TempDir::new("unreachable");
    o.outbox = dir.path().join("outbox.db");
    let e = Storage::open(&o).await.err().expect("nobody listens");
    let msg = e.to_string();
    assert!(msg.starts_with("cannot open the database"), "{msg}");
    assert!(!msg.contains("hunter2"), "the password is hidden: {msg}");
    let dir = std::path::Path::new("/nonexistent-dir/x.db");
    let e = Storage::open(&Options::new(dir.display().to_string()))
        .await
        .err()
        .expect("no such directory");
    assert!(e.to_string().contains("/nonexistent-dir/x.db"), "{e}");
}
