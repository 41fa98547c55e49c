//! What a game gives the load tester so its bots can play it: a [`BotBrain`] turns what a bot
//! holds (its [`Replica`]) into the next input command, and now and then an action. The load
//! tester (`tickwire-bench`) does the rest for any game: connecting, numbering and repeating
//! commands, checking every checksum, pings, chat and the report.

use super::Value;
use super::replica::Replica;

/// A simulated player's decisions for one game. Pure and seeded by the game, so a bot's
/// choices can be tested without sockets.
pub trait BotBrain: Send {
    /// The lanes of the next input command (one per field of the schema's input), in range.
    /// `inputs_per_second` lets a brain hold a decision for a stretch of time.
    fn next_input(&mut self, replica: &Replica, inputs_per_second: f64) -> Vec<i64>;

    /// An action to send now (`kind` into the schema's actions, and its values), if any.
    /// Called once per input command.
    fn next_action(&mut self, _replica: &Replica) -> Option<(u16, Vec<Value>)> {
        None
    }
}
