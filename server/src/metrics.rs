//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Every label value comes from a fixed set written in this file (or, for `room`, from the
//! rooms running, which `--max-rooms` bounds and whose series go when the room does): nothing
//! a client sends becomes a label as it is, so no client can grow `/metrics` or the server's
//! memory by sending many distinct values.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the close counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// WebSocket close code (1006 when the peer vanished without a close frame): one of
    /// [`close_code_label`]'s fixed set, `other` for any code outside it.
    pub code: &'static str,
    /// `server` or `client`: who closed.
    pub initiator: &'static str,
}

/// The label value for a close code: the number for the codes tickwire sends
/// ([`tickwire_shared::close::CloseCode`]) and for the codes RFC 6455 and the IANA registry
/// define (1000-1003, 1005-1015), `other` for everything else (a client chooses the code it
/// closes with, and 65,536 codes as labels would make every scrape megabytes).
pub fn close_code_label(code: u16) -> &'static str {
    match code {
        1000 => "1000",
        1001 => "1001",
        1002 => "1002",
        1003 => "1003",
        1005 => "1005",
        1006 => "1006",
        1007 => "1007",
        1008 => "1008",
        1009 => "1009",
        1010 => "1010",
        1011 => "1011",
        1012 => "1012",
        1013 => "1013",
        1014 => "1014",
        1015 => "1015",
        4000 => "4000",
        4001 => "4001",
        4002 => "4002",
        4003 => "4003",
        4004 => "4004",
        4005 => "4005",
        4006 => "4006",
        4007 => "4007",
        4008 => "4008",
        _ => "other",
    }
}

/// Labels of per-room metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoomLabels {
    /// Room id.
    pub room: String,
}

/// Labels of the auth failure counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: &'static str,
}

/// Labels of the input counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened (or which limit).
    pub outcome: &'static str,
}

/// Labels of a per-transport metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabels {
    /// `websocket` or `webtransport`.
    pub transport: &'static str,
}

/// The database's metrics (`--db`), shared with its writer task.
#[derive(Clone, Default)]
pub struct DbMetrics {
    /// 1 while the database answers, 0 while it does not (or with `--db off`).
    pub up: Gauge,
    /// Match results waiting to be written (in the queue or the outbox).
    pub queued: Gauge,
    /// Match results written to the database.
    pub results_written: Counter,
    /// Database writes that failed (each is retried).
    pub write_failures: Counter,
    /// Match results lost because the queue was full (`--db-queue`).
    pub results_dropped: Counter,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Open player connections (joined or not), WebSocket and WebTransport.
    pub connections: Gauge,
    /// Open player connections by transport.
    pub connections_by_transport: Family<TransportLabels, Gauge>,
    /// Snapshots sent as WebTransport datagrams (the others over WebTransport went on its
    /// stream: larger than a datagram).
    pub datagrams_sent: Counter,
    /// Players in all rooms (including ones waiting for a resume).
    pub players: Gauge,
    /// Time spent per tick (draining inputs, stepping, building and queueing snapshots).
    pub tick_duration: Histogram,
    /// Entities alive in all rooms.
    pub entities: Gauge,
    /// WebSocket payload bytes sent.
    pub bytes_sent: Counter,
    /// WebSocket payload bytes received.
    pub bytes_received: Counter,
    /// Snapshots queued for clients.
    pub snapshots_sent: Counter,
    /// Snapshots not built because a client's outbox was full.
    pub snapshots_skipped: Counter,
    /// Events dropped from the snapshots of clients that fell behind (`--max-event-bytes`).
    pub events_dropped: Counter,
    /// Entity updates held back for a later tick by the clients' byte budgets
    /// (`--client-budget`).
    pub updates_held: Counter,
    /// Rooms sending snapshots less often than every tick because their ticks overran their
    /// period (`--overload-max-interval`).
    pub rooms_degraded: Gauge,
    /// Ticks on which an overloaded room stepped its game but sent no snapshot.
    pub ticks_between_snapshots: Counter,
    /// NetId releases the engine refused (a bookkeeping slip that would have let two entities
    /// share an id): 0 unless something is wrong.
    pub net_id_errors: Counter,
    /// Closed WebSocket connections.
    pub closes: Family<CloseLabels, Counter>,
    /// Input commands received, by outcome.
    pub inputs: Family<OutcomeLabels, Counter>,
    /// Game actions received, by outcome (`accepted`, `refused` by the game).
    pub actions: Family<OutcomeLabels, Counter>,
    /// HTTP requests refused because the connection limit was reached.
    pub refused_connections: Counter,
    /// Connections in their HTTP phase (TLS, request head, keep-alive), under
    /// `--max-handshakes`.
    pub handshakes: Gauge,
    /// Connections dropped in their HTTP phase to make room for a newer one.
    pub handshakes_evicted: Counter,
    /// Rooms running.
    pub rooms: Gauge,
    /// Players per room.
    pub room_players: Family<RoomLabels, Gauge>,
    /// Refused authentications by reason.
    pub auth_failures: Family<ReasonLabels, Counter>,
    /// Rate-limit hits by kind (`messages`: connection closed with 1008; `chat`: line dropped).
    pub rate_limited: Family<OutcomeLabels, Counter>,
    /// Players taken back with a resume token.
    pub resumes: Counter,
    /// Mirror connections attached to a session (`?mirror=attach`).
    pub mirrors_attached: Counter,
    /// The database.
    pub db: DbMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tickwire");
        let m = Metrics {
            connections: Gauge::default(),
            connections_by_transport: Family::default(),
            datagrams_sent: Counter::default(),
            players: Gauge::default(),
            tick_duration: Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
            ]),
            entities: Gauge::default(),
            bytes_sent: Counter::default(),
            bytes_received: Counter::default(),
            snapshots_sent: Counter::default(),
            snapshots_skipped: Counter::default(),
            events_dropped: Counter::default(),
            updates_held: Counter::default(),
            rooms_degraded: Gauge::default(),
            ticks_between_snapshots: Counter::default(),
            net_id_errors: Counter::default(),
            closes: Family::default(),
            inputs: Family::default(),
            actions: Family::default(),
            refused_connections: Counter::default(),
            handshakes: Gauge::default(),
            handshakes_evicted: Counter::default(),
            rooms: Gauge::default(),
            room_players: Family::default(),
            auth_failures: Family::default(),
            rate_limited: Family::default(),
            resumes: Counter::default(),
            mirrors_attached: Counter::default(),
            db: DbMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open player connections (WebSocket and WebTransport)",
            m.connections.clone(),
        );
        registry.register(
            "connections_by_transport",
            "Open player connections by transport",
            m.connections_by_transport.clone(),
        );
        registry.register(
            "datagrams_sent",
            "Snapshots sent as WebTransport datagrams",
            m.datagrams_sent.clone(),
        );
        registry.register("players", "Players in rooms", m.players.clone());
        registry.register(
            "tick_duration_seconds",
            "Time spent per room tick",
            m.tick_duration.clone(),
        );
        registry.register("entities", "Entities alive", m.entities.clone());
        registry.register(
            "bytes_sent",
            "WebSocket payload bytes sent",
            m.bytes_sent.clone(),
        );
        registry.register(
            "bytes_received",
            "WebSocket payload bytes received",
            m.bytes_received.clone(),
        );
        registry.register(
            "snapshots_sent",
            "Snapshots queued for clients",
            m.snapshots_sent.clone(),
        );
        registry.register(
            "snapshots_skipped",
            "Snapshots skipped because the client's outbox was full",
            m.snapshots_skipped.clone(),
        );
        registry.register(
            "events_dropped",
            "Events dropped from the snapshots of clients that fell behind",
            m.events_dropped.clone(),
        );
        registry.register(
            "updates_held",
            "Entity updates held back for a later tick by the clients' byte budgets",
            m.updates_held.clone(),
        );
        registry.register(
            "rooms_degraded",
            "Rooms sending snapshots only every few ticks because their ticks overran the period",
            m.rooms_degraded.clone(),
        );
        registry.register(
            "ticks_between_snapshots",
            "Ticks on which an overloaded room stepped its game but sent no snapshot",
            m.ticks_between_snapshots.clone(),
        );
        registry.register(
            "net_id_errors",
            "NetId releases the engine refused (should stay 0)",
            m.net_id_errors.clone(),
        );
        registry.register(
            "closes",
            "Closed WebSocket connections by close code",
            m.closes.clone(),
        );
        registry.register(
            "inputs",
            "Input commands received by outcome",
            m.inputs.clone(),
        );
        registry.register(
            "actions",
            "Game actions received by outcome",
            m.actions.clone(),
        );
        registry.register(
            "refused_connections",
            "Connections refused at the connection limit",
            m.refused_connections.clone(),
        );
        registry.register(
            "handshakes",
            "Connections in their HTTP phase",
            m.handshakes.clone(),
        );
        registry.register(
            "handshakes_evicted",
            "Connections dropped in their HTTP phase for a newer one (--max-handshakes)",
            m.handshakes_evicted.clone(),
        );
        registry.register("rooms", "Rooms running", m.rooms.clone());
        registry.register("room_players", "Players per room", m.room_players.clone());
        registry.register(
            "auth_failures",
            "Refused authentications by reason",
            m.auth_failures.clone(),
        );
        registry.register(
            "rate_limited",
            "Rate-limit hits by kind",
            m.rate_limited.clone(),
        );
        registry.register(
            "resumes",
            "Players taken back with a resume token",
            m.resumes.clone(),
        );
        registry.register(
            "mirrors_attached",
            "Mirror connections attached to a session (?mirror=attach)",
            m.mirrors_attached.clone(),
        );
        registry.register(
            "db_up",
            "1 while the database answers, 0 while it does not",
            m.db.up.clone(),
        );
        registry.register(
            "db_queued",
            "Match results waiting to be written",
            m.db.queued.clone(),
        );
        registry.register(
            "db_results_written",
            "Match results written to the database",
            m.db.results_written.clone(),
        );
        registry.register(
            "db_write_failures",
            "Database writes that failed (each is retried)",
            m.db.write_failures.clone(),
        );
        registry.register(
            "db_results_dropped",
            "Match results lost because the queue was full (--db-queue)",
            m.db.results_dropped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts a close (`initiator`: `server` or `client`; the code is labelled by
    /// [`close_code_label`]).
    pub fn closed(&self, code: u16, initiator: &'static str) {
        self.closes
            .get_or_create(&CloseLabels {
                code: close_code_label(code),
                initiator,
            })
            .inc();
    }

    /// Adds the cluster's figures (`--redis`): `tickwire_cluster_redis_up` and the rest.
    pub fn register_cluster(&mut self, c: &crate::cluster::ClusterMetrics) {
        let r = self.registry.sub_registry_with_prefix("cluster");
        r.register(
            "redis_up",
            "1 while the cluster's Redis answers",
            c.redis_up.clone(),
        );
        r.register(
            "redis_errors",
            "Redis calls that failed",
            c.redis_errors.clone(),
        );
        r.register(
            "redis_commands",
            "Redis commands this node sent (a script or a renewal's command counts as one)",
            c.redis_commands.clone(),
        );
        r.register(
            "matches",
            "Seats this node reserved by matchmaking",
            c.matches.clone(),
        );
        r.register(
            "redirects",
            "Joins this node sent to another node",
            c.redirects.clone(),
        );
        r.register(
            "draining",
            "1 while this node drains before it stops",
            c.draining.clone(),
        );
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry)
            .expect("writing to a String cannot fail");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickwire_shared::close::CloseCode;

    #[test]
    fn every_close_code_of_ours_has_its_own_label_and_unknown_ones_share_one() {
        for &c in CloseCode::ALL {
            assert_eq!(close_code_label(c.code()), c.code().to_string(), "{c:?}");
        }
        for n in 1000..=1015 {
            let want = if n == 1004 { "other" } else { &*n.to_string() };
            assert_eq!(close_code_label(n), want);
        }
        let labels: std::collections::HashSet<_> = (0..=u16::MAX).map(close_code_label).collect();
        assert_eq!(labels.len(), 15 + 9 + 1, "{labels:?}");
    }

    #[test]
    fn many_distinct_close_codes_make_few_series() {
        let m = Metrics::new();
        for code in 0..=u16::MAX {
            m.closed(code, "client");
        }
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("tickwire_closes_total{"))
            .count();
        assert_eq!(series, 25, "{text}");
        assert!(text.contains(r#"tickwire_closes_total{code="other",initiator="client"} 65512"#));
    }
}
