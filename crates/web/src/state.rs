//! Shared state of the HTTP layer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use streamhard_relay::Relay;
use streamhard_store::Store;

use crate::accounts::throttle::Throttle;
use crate::clock::Clock;

/// Most keys the login throttle tracks (about 100 bytes each).
const THROTTLE_CAPACITY: usize = 100_000;

#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Accept destinations on loopback/private addresses (tests, LAN setups).
    pub allow_private_destinations: bool,
    /// Base URL used in `whip_url` (e.g. `https://live.example.com`); when unset the request's
    /// Host header is used with plain http. Also the origin the CSRF check expects.
    pub public_url: Option<String>,
    /// Most destinations one broadcast may have.
    pub max_destinations: usize,
    /// Most broadcasts one user may run at once.
    pub max_broadcasts_per_user: usize,
    /// Most destinations one user's running broadcasts may have together.
    pub max_destinations_per_user: usize,
    /// Most login sessions one account keeps; a new login ends the least recently used.
    pub max_login_sessions_per_user: usize,
    /// Most event streams one user's broadcasts may have open at once (429 past it).
    pub max_event_streams_per_user: usize,
    /// Most event streams open on this node at once (503 past it).
    pub max_event_streams: usize,
    /// Whether `POST /api/auth/signup` creates accounts (`--disable-signup` turns it off).
    pub signup_enabled: bool,
    /// Mark the session cookie `Secure` (served over HTTPS, or behind a TLS proxy).
    pub cookie_secure: bool,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, however much it is used.
    pub session_lifetime: Duration,
    /// Take the client address for login throttling from `X-Forwarded-For` (behind a proxy).
    pub trust_proxy_headers: bool,
    /// This node's name in the broadcast history (empty for a single node).
    pub node: String,
    /// Serve the studio's files from this directory instead of the embedded copy
    /// (development: edit and reload without rebuilding).
    pub studio_dir: Option<std::path::PathBuf>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            allow_private_destinations: false,
            public_url: None,
            max_destinations: 10,
            max_broadcasts_per_user: 3,
            max_destinations_per_user: 20,
            max_login_sessions_per_user: 50,
            max_event_streams_per_user: 8,
            max_event_streams: 2000,
            signup_enabled: true,
            cookie_secure: false,
            session_idle: Duration::from_secs(24 * 3600),
            session_lifetime: Duration::from_secs(7 * 24 * 3600),
            trust_proxy_headers: false,
            node: String::new(),
            studio_dir: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub relay: Arc<Relay>,
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub clock: Clock,
    pub(crate) throttle: Arc<Mutex<Throttle>>,
    /// argon2 threads, one per core, and a short queue (accounts/hasher.rs).
    pub(crate) hasher: Arc<crate::accounts::hasher::Hasher>,
    /// Held while checking a user's limits and creating what they limit.
    pub(crate) limits: Arc<tokio::sync::Mutex<()>>,
    /// The studio's files.
    pub(crate) assets: crate::studio::Assets,
    /// Event streams open, per user and in all.
    pub(crate) event_streams: Arc<crate::broadcasts::StreamSlots>,
    /// Set when the server begins shutting down ([`AppState::begin_drain`]).
    draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(relay: Arc<Relay>, store: Store, config: WebConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let assets = match &config.studio_dir {
            Some(dir) => crate::studio::Assets::from_dir(dir),
            None => crate::studio::Assets::embedded(),
        };
        let event_streams = Arc::new(crate::broadcasts::StreamSlots::new(
            config.max_event_streams_per_user,
            config.max_event_streams,
        ));
        Self {
            relay,
            store,
            config: Arc::new(config),
            clock: Clock::system(),
            throttle: Arc::new(Mutex::new(Throttle::new(THROTTLE_CAPACITY))),
            hasher: Arc::new(crate::accounts::hasher::Hasher::new(cores, 4 * cores)),
            limits: Arc::default(),
            assets,
            event_streams,
            draining: Arc::default(),
        }
    }

    /// Replaces the clock (tests move time forward to expire sessions and throttling).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The server is shutting down: `/readyz` answers 503 (load balancers stop sending), new
    /// WHIP sessions are refused with 503 + `Retry-After` (the publisher retries, landing on
    /// another node), and event streams end with a final `shutdown` event.
    pub fn begin_drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn throttle(&self) -> MutexGuard<'_, Throttle> {
        // The throttle's counters stay consistent even if a holder panicked mid-update.
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }
}
