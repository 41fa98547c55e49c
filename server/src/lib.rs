//! The tickwire server. Layers, inner to outer: [`sim`] (the game), [`room`] (sans-IO tick
//! driver with per-client deltas), [`interest`] (who sees what), [`net`] (sockets).
pub mod grid;
pub mod interest;
pub mod room;
pub mod sim;
