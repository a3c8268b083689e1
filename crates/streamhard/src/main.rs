//! `streamhard`: the one binary. `streamhard serve` runs everything with zero configuration.

mod config;
mod http_server;
mod node_id;
mod tls;
mod users;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use streamhard_relay::{DestinationSettings, IngestConfig, IngestLimits, Relay, RelayConfig};
use streamhard_store::{Store, Timestamp};
use streamhard_web::{AppState, WebConfig};
use tracing::info;

use config::{Cli, Command, ServeArgs};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging(&args.log)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(args))
        }
        Command::User(args) => {
            init_logging("warn")?;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(users::run(args, std::io::stdin().lock()))
        }
        Command::Bench(args) => {
            init_logging("warn")?;
            let exe = std::env::current_exe().context("locating this binary")?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(streamhard_bench::run(args, exe))
        }
    }
}

fn init_logging(filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).context("invalid --log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Installed first, so a SIGTERM during start-up is a clean shutdown too.
    let signal = shutdown_signal();
    match http_server::raise_open_files_limit() {
        Some(limit) => info!(open_files = limit, "open files limit"),
        None => tracing::warn!("cannot read the open files limit"),
    }
    let data_dir = &args.storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    // Before anything binds: a wrong certificate path is reported at once.
    let tls = args.tls().as_ref().map(tls::prepare).transpose()?;
    let store = Store::open(&args.storage.location())
        .await
        .context("cannot open the database")?;
    // Broadcasts do not survive a restart (their keys were only in memory): close what a
    // previous run of this node left open, and only that (other nodes may share the database).
    let (node, first_start) = match &args.node_id {
        Some(id) => (id.clone(), false),
        None => node_id::load_or_create(data_dir)?,
    };
    info!(node = %node, "node id");
    let mut orphans = store
        .end_broadcasts_of_node(&node, Timestamp::now())
        .await?;
    if first_start {
        // Versions before node ids wrote "" for every node; a data directory starting its
        // first id is such a node upgrading, and those broadcasts were its own.
        orphans += store.end_broadcasts_of_node("", Timestamp::now()).await?;
    }
    if orphans > 0 {
        info!(
            broadcasts = orphans,
            "ended the broadcasts left open by the previous run"
        );
    }
    let relay = Relay::start(RelayConfig {
        ingest: IngestConfig {
            udp_bind: args.udp_bind(),
            candidates: args.candidate_policy(),
            keyframe_interval: args.keyframe_interval(),
            start_bitrate_kbps: args.start_bitrate_kbps,
            pipeline: streamhard_pipeline::PipelineSettings {
                aac_bitrate: args.aac_bitrate,
                ..Default::default()
            },
            limits: IngestLimits {
                max_sessions: args.max_sessions as usize,
                max_peer_packets_per_second: args.max_peer_packets_per_second,
            },
        },
        destination: DestinationSettings {
            max_failures: args.destination_max_failures,
            allow_private: args.allow_private_destinations,
            ..Default::default()
        },
        publisher_grace: std::time::Duration::from_secs(args.publisher_grace_seconds),
    })
    .await
    .with_context(|| format!("cannot bind UDP port {}", args.udp_port))?;

    let state = AppState::new(
        Arc::clone(&relay),
        store.clone(),
        WebConfig {
            allow_private_destinations: args.allow_private_destinations,
            public_url: args.public_url.clone(),
            max_destinations: args.max_destinations,
            max_broadcasts_per_user: args.max_broadcasts_per_user,
            max_destinations_per_user: args.max_destinations_per_user,
            max_login_sessions_per_user: args.max_login_sessions_per_user as usize,
            max_event_streams_per_user: args.max_event_streams_per_user as usize,
            max_event_streams: args.max_event_streams as usize,
            signup_enabled: !args.disable_signup,
            cookie_secure: args.cookie_secure(),
            session_idle: args.session_idle(),
            session_lifetime: args.session_lifetime(),
            trust_proxy_headers: args.trust_proxy_headers,
            node: node.clone(),
            studio_dir: args.studio_dir.clone(),
        },
    );
    tokio::spawn(purge_sessions(store.clone(), args.session_idle()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(http = %listener.local_addr()?, tls = tls.is_some(), udp = %relay.udp_addr(), "streamhard is up");
    // Tests and scripts read this line to learn the bound ports (useful with port 0) and
    // whether the port speaks HTTPS.
    println!(
        "streamhard: listening {scheme}={} udp={}",
        listener.local_addr()?,
        relay.udp_addr()
    );

    // The peer address (ConnectInfo, set by http_server) feeds login throttling per client.
    let draining = state.clone();
    let shutdown = async move {
        signal.await;
        info!("shutting down: no new sessions, /readyz 503, event streams end");
        draining.begin_drain();
    };
    let app = streamhard_web::app(state)
        .layer(axum::middleware::map_request(
            tls::authority::host_from_authority,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            Duration::from_secs(args.body_timeout_seconds),
        ));
    let limits = http_server::Limits {
        header_timeout: Duration::from_secs(args.header_timeout_seconds),
        per_client: args.max_connections_per_client,
        drain: Duration::from_secs(args.drain_seconds),
    };
    match tls {
        Some(identity) => {
            let listener = tls::TlsListener::new(listener, identity.config)?;
            http_server::serve(listener, app, limits, shutdown).await;
        }
        None => http_server::serve(listener, app, limits, shutdown).await,
    }
    info!("shutting down: unpublishing destinations");
    relay.shutdown().await;
    store
        .end_broadcasts_of_node(&node, Timestamp::now())
        .await?;
    store.close().await;
    Ok(())
}

/// Deletes expired sessions every hour (lookups refuse them anyway; this keeps the table small).
async fn purge_sessions(store: Store, idle: Duration) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.purge_expired_sessions(Timestamp::now(), idle).await {
            Ok(0) => {}
            Ok(n) => info!(sessions = n, "purged expired sessions"),
            Err(e) => tracing::warn!(error = %e, "cannot purge expired sessions"),
        }
    }
}

/// The first SIGTERM or Ctrl-C. The handlers are installed when this is called, not when the
/// future is first awaited: a signal that arrives while the server is still starting up must
/// shut it down cleanly too, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let terminate = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (terminate, interrupt) {
                (Ok(mut terminate), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
