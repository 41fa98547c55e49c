//! A game ends a match through `Ctx::end_match`: the result comes out of the tick once, with
//! the tick it ended at, the players' names and the stats by the names the game declares.

use tickwire_engine::testing::TestRoom;
use tickwire_engine::{Ctx, EngineConfig, Game, MatchEnd, Standing, World};
use tickwire_shared::schema::Schema;
use tickwire_shared::sync::InputCmd;
use tickwire_shared::{PlayerId, Tick};

/// Ends a match every 10 ticks; player 1 scores 2, the others 1; one stat too few for the
/// declared two (the engine fills it with 0).
#[derive(Default)]
struct Rounds {
    players: Vec<PlayerId>,
    started: Tick,
}

impl Game for Rounds {
    fn schema(&self) -> Schema {
        Schema::new("rounds")
    }
    fn stats(&self) -> &'static [&'static str] {
        &["goals", "saves"]
    }
    fn join(&mut self, _: &mut Ctx<'_>, p: PlayerId, _: &str) -> Result<(), String> {
        self.players.push(p);
        Ok(())
    }
    fn leave(&mut self, _: &mut Ctx<'_>, p: PlayerId) {
        self.players.retain(|q| *q != p);
    }
    fn input(&mut self, _: &mut Ctx<'_>, _: PlayerId, _: &InputCmd) {}
    fn step(&mut self, ctx: &mut Ctx<'_>) {
        if ctx.tick().0.is_multiple_of(10) {
            let standings = self
                .players
                .iter()
                .map(|p| Standing {
                    player: *p,
                    score: if p.0 == 1 { 2 } else { 1 },
                    stats: vec![i64::from(p.0)],
                })
                .collect();
            ctx.end_match(MatchEnd {
                started: self.started,
                standings,
            });
            self.started = ctx.tick();
        }
    }
    fn replicate(&self, _: &mut World) {}
}

#[test]
fn a_match_ended_by_the_game_comes_out_of_that_tick_once() {
    let mut h = TestRoom::new(EngineConfig::default(), Rounds::default());
    let ann = h.join("ann");
    let bob = h.join("bob");
    let mut results = Vec::new();
    for _ in 0..25 {
        let out = h.tick();
        for r in out.results {
            results.push((h.room.tick_count(), r));
        }
    }
    assert_eq!(results.len(), 2, "ticks 10 and 20");
    let (at, r) = &results[0];
    assert_eq!(
        (*at, r.started, r.ended, r.tick_rate),
        (Tick(10), Tick(0), Tick(10), 30)
    );
    assert_eq!(r.players.len(), 2);
    assert_eq!(
        (
            r.players[0].player,
            r.players[0].name.as_str(),
            r.players[0].score
        ),
        (ann, "ann", 2)
    );
    assert_eq!(r.players[0].stats, vec![("goals", 1), ("saves", 0)]);
    assert_eq!(r.players[1].player, bob);
    assert_eq!(r.players[1].stats, vec![("goals", 2), ("saves", 0)]);
    assert_eq!(
        (results[1].1.started, results[1].1.ended),
        (Tick(10), Tick(20))
    );
}
