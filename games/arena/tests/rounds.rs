//! The arena plays rounds: when one is over its result (kills, deaths, a win for the top
//! player) comes out of the room's tick, everyone gets a notice, and the scores start again.

use tickwire_arena::{ArenaConfig, ArenaGame, STATS, scores};
use tickwire_engine::EngineConfig;
use tickwire_engine::testing::TestRoom;

#[test]
fn a_round_reports_its_result_and_the_scores_start_again() {
    let mut h = TestRoom::new(
        EngineConfig {
            tick_rate: 10,
            ..EngineConfig::default()
        },
        ArenaGame::new(ArenaConfig {
            tick_rate: 10,
            round_secs: 2,
            ..ArenaConfig::default()
        }),
    );
    let ann = h.join("ann");
    let bob = h.join("bob");
    // ann has killed bob twice this round, bob ann once.
    for (id, kills, deaths) in [(ann, 2, 1), (bob, 1, 2)] {
        let key = h.room.game().player_key(id).unwrap();
        let p = h.room.game_mut().sim_mut().player_mut(key).unwrap();
        (p.score, p.deaths) = (kills, deaths);
    }
    let mut results = Vec::new();
    for _ in 0..45 {
        results.extend(h.tick().results);
    }
    assert_eq!(results.len(), 2, "rounds end at ticks 20 and 40");
    let r = &results[0];
    assert_eq!((r.started.0, r.ended.0), (0, 20));
    let rows: Vec<_> = r
        .players
        .iter()
        .map(|p| (p.player, p.name.as_str(), p.score, p.stats.clone()))
        .collect();
    assert_eq!(STATS, ["kills", "deaths", "wins"]);
    assert_eq!(
        rows,
        vec![
            (
                ann,
                "ann",
                2,
                vec![("kills", 2), ("deaths", 1), ("wins", 1)]
            ),
            (
                bob,
                "bob",
                1,
                vec![("kills", 1), ("deaths", 2), ("wins", 0)]
            ),
        ]
    );
    // The second round nobody scored: no win for anyone, and the replicated scores are 0.
    assert!(results[1].players.iter().all(|p| p.stats[2] == ("wins", 0)));
    assert_eq!((results[1].started.0, results[1].ended.0), (20, 40));
    let rec = &h.replicas[&bob].players[&ann];
    assert_eq!(
        (rec.lanes[scores::kills], rec.lanes[scores::deaths]),
        (0, 0)
    );
}
