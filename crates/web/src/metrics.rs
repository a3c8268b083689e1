//! `/metrics` in the Prometheus text format.
//!
//! Values are read from the relay at scrape time, so nothing on the media path updates a
//! metric it does not already count. Labels never carry a destination URL, a stream key or a
//! broadcast id (unbounded cardinality, and ids are capabilities): only bounded enums.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::Ordering;
use streamhard_relay::latency::{LatencySnapshot, RELAY_LATENCY};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut registry = Registry::with_prefix("streamhard");

    let broadcasts = state.relay.broadcasts();
    let live = Gauge::<i64>::default();
    let destinations = Family::<StateLabel, Gauge<i64>>::default();
    let destination_bytes = Gauge::<i64>::default();
    let dropped = Gauge::<i64>::default();
    let mut live_count = 0;
    for broadcast in &broadcasts {
        let status = broadcast.status();
        live_count += i64::from(status.live);
        for (_, d) in status.destinations {
            destinations
                .get_or_create(&StateLabel {
                    state: d.state.as_str(),
                })
                .inc();
            destination_bytes.inc_by(d.bytes_sent as i64);
            dropped.inc_by(d.dropped_frames as i64);
        }
    }
    live.set(live_count);
    let all = Gauge::<i64>::default();
    all.set(broadcasts.len() as i64);
    registry.register("broadcasts", "Broadcasts on this node", all);
    registry.register(
        "broadcasts_live",
        "Broadcasts with a publisher connected",
        live,
    );
    let sessions = Gauge::<i64>::default();
    sessions.set(state.relay.sessions() as i64);
    registry.register(
        "ingest_sessions",
        "WebRTC sessions on this node (at most --max-sessions)",
        sessions,
    );
    registry.register("destinations", "Destinations by state", destinations);
    registry.register(
        "destination_sent_bytes",
        "Bytes sent by the destinations currently running",
        destination_bytes,
    );
    registry.register(
        "destination_dropped_frames",
        "Frames dropped for slow destinations currently running",
        dropped,
    );

    let counters = state.relay.ingest_counters();
    for (name, help, value) in [
        (
            "ingest_datagrams",
            "UDP datagrams received on the ingest port",
            &counters.datagrams,
        ),
        (
            "ingest_unknown_peer_datagrams",
            "Datagrams from addresses no session knows",
            &counters.unknown_peer,
        ),
        (
            "ingest_dropped_datagrams",
            "Datagrams dropped because their session was busy",
            &counters.session_busy,
        ),
        (
            "udp_datagrams_rate_limited",
            "Datagrams dropped because their source sent more than --max-peer-packets-per-second",
            &counters.rate_limited,
        ),
        (
            "whip_sessions_refused_node_full",
            "WHIP offers refused because the node carried --max-sessions sessions",
            &counters.sessions_refused,
        ),
    ] {
        let counter = Counter::<u64>::default();
        counter.inc_by(value.load(Ordering::Relaxed));
        registry.register(name, help, counter);
    }

    // Every reason from the start (zeros included), so alerts and dashboards need no guessing.
    let refused = Family::<ReasonLabel, Counter<u64>>::default();
    for (reason, n) in counters.offers_refused() {
        refused.get_or_create(&ReasonLabel { reason }).inc_by(n);
    }
    registry.register(
        "whip_offers_refused",
        "WHIP offers refused because they cannot be relayed, by reason",
        refused,
    );

    // Every connection, session, broadcast and destination runs as tasks: a count that does
    // not come back down after they end is a leak (the soak test watches it).
    let tasks = Gauge::<i64>::default();
    tasks.set(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks() as i64,
    );
    registry.register(
        "runtime_alive_tasks",
        "Tasks alive in the server's async runtime",
        tasks,
    );

    registry.register_with_unit(
        "relay_latency",
        "Video frame arrival on the ingest socket to its FLV tag written to a destination socket",
        Unit::Seconds,
        Snapshot(RELAY_LATENCY.snapshot()),
    );

    let mut body = String::new();
    encode(&mut body, &registry).map_err(ApiError::internal)?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

/// The relay's own lock-free histogram, encoded as a Prometheus histogram at scrape time.
#[derive(Debug)]
struct Snapshot(LatencySnapshot);

impl EncodeMetric for Snapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(
            self.0.sum_seconds,
            self.0.count,
            &self.0.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
