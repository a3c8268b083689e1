//! Command line and environment: one clap struct, every flag with an env var, validated at start.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use streamhard_store::{DatabaseUrl, Location};

#[derive(Parser, Debug)]
#[command(
    name = "streamhard",
    version,
    about = "Go live from a web browser to every streaming platform at once."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of the biggest variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: web UI and API, WHIP ingest, RTMP relay.
    Serve(ServeArgs),
    /// Manage accounts from the shell (works while the server runs).
    User(UserArgs),
    /// Measure the relay as deployed: this binary's server in its own process, N synthetic
    /// WebRTC publishers, M RTMP sinks each; ends with one `bench:` summary line.
    Bench(streamhard_bench::BenchArgs),
}

/// Where the accounts database is: shared by `serve` and `user`.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Directory for the server's own files: the SQLite database `streamhard.db` unless
    /// --database-url is given.
    #[arg(
        long,
        env = "STREAMHARD_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// PostgreSQL database to use instead of the SQLite file, e.g.
    /// postgres://user:password@db.example.com/streamhard (several nodes can share one).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = PostgresUrl, global = true)]
    pub database_url: Option<DatabaseUrl>,
}

impl StorageArgs {
    pub fn location(&self) -> Location {
        match &self.database_url {
            Some(url) => Location::Postgres(url.clone()),
            None => Location::from_config(None, &self.data_dir),
        }
    }
}

/// Accepts `postgres://` and `postgresql://` URLs. A parser of our own because clap's usual
/// "invalid value '…'" error would print the URL, password included.
#[derive(Clone, Copy, Debug)]
struct PostgresUrl;

impl clap::builder::TypedValueParser for PostgresUrl {
    type Value = DatabaseUrl;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<DatabaseUrl, clap::Error> {
        match value.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Ok(DatabaseUrl::new(s))
            }
            _ => Err(clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                "--database-url: expected a postgres:// URL (the SQLite database is chosen with --data-dir)\n",
            )),
        }
    }
}

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    pub storage: StorageArgs,

    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input, never from the command
    /// line (which other users of the machine can see).
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Read the password from standard input (its first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Delete an account with its sessions and broadcast history.
    Delete {
        #[arg(long)]
        email: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address of the HTTP server (UI, API, WHIP). It speaks HTTPS with --tls-cert/--tls-key
    /// or --tls-self-signed.
    #[arg(long, env = "STREAMHARD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    /// Browsers give the camera and microphone only to HTTPS pages (or http://localhost).
    #[arg(
        long,
        env = "STREAMHARD_TLS_CERT",
        value_name = "PATH",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "STREAMHARD_TLS_KEY",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate made on first start and kept in
    /// <data-dir>/tls/ (browsers warn about it once; its fingerprint is logged at start).
    #[arg(long, env = "STREAMHARD_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// UDP port shared by every WebRTC session (0 picks a free one).
    #[arg(long, env = "STREAMHARD_UDP_PORT", default_value_t = 8189)]
    pub udp_port: u16,

    /// An address to advertise as an ICE candidate besides this host's interface addresses:
    /// the public IP behind NAT, or the host's address for a container. Repeatable (IPv4 and
    /// IPv6); the environment variable takes a comma-separated list.
    #[arg(
        long = "public-ip",
        env = "STREAMHARD_PUBLIC_IP",
        value_delimiter = ','
    )]
    pub public_ips: Vec<IpAddr>,

    /// Advertise only the addresses of these interfaces (comma-separated names, e.g.
    /// eth0,wlan0). Default: every interface that is up, loopback included.
    #[arg(long, env = "STREAMHARD_ICE_INTERFACES", value_delimiter = ',')]
    pub ice_interfaces: Vec<String>,

    /// Advertise no interface address at all, only the --public-ip ones (a container whose
    /// own addresses no publisher can reach).
    #[arg(
        long,
        env = "STREAMHARD_NO_INTERFACE_CANDIDATES",
        requires = "public_ips"
    )]
    pub no_interface_candidates: bool,

    /// Base URL that clients reach this server at, used in the whip_url handed out
    /// (e.g. https://live.example.com behind a TLS proxy). Defaults to the request's Host.
    #[arg(long, env = "STREAMHARD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Allow destinations on loopback, private, link-local and other non-public addresses.
    /// Off by default: otherwise any user could make the server connect into your network.
    #[arg(long, env = "STREAMHARD_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: bool,

    /// Every destination gets a keyframe at least this often (seconds). Platforms want 2.
    #[arg(long, env = "STREAMHARD_KEYFRAME_INTERVAL", default_value_t = 2.0, value_parser = positive_seconds)]
    pub keyframe_interval: f64,

    /// AAC bitrate sent to destinations (bits per second).
    #[arg(long, env = "STREAMHARD_AAC_BITRATE", default_value_t = 128_000, value_parser = clap::value_parser!(u32).range(32_000..=320_000))]
    pub aac_bitrate: u32,

    /// Initial video bitrate suggested to the browser (kbps), so the first seconds are sharp.
    #[arg(long, env = "STREAMHARD_START_BITRATE_KBPS", default_value_t = 2500)]
    pub start_bitrate_kbps: u32,

    /// Most destinations one broadcast may have.
    #[arg(long, env = "STREAMHARD_MAX_DESTINATIONS", default_value_t = 10)]
    pub max_destinations: usize,

    /// Most broadcasts one user may run at once.
    #[arg(long, env = "STREAMHARD_MAX_BROADCASTS_PER_USER", default_value_t = 3)]
    pub max_broadcasts_per_user: usize,

    /// Most destinations one user's running broadcasts may have together.
    #[arg(
        long,
        env = "STREAMHARD_MAX_DESTINATIONS_PER_USER",
        default_value_t = 20
    )]
    pub max_destinations_per_user: usize,

    /// Most WebRTC (WHIP) sessions this node carries at once; a new one past it gets 503
    /// `node_full` with Retry-After (a publisher reconnecting to its broadcast is never
    /// refused). 200: a stream costs ~1.1% of a core and ~1 MB (BENCHMARKS.md), so 200 fill
    /// about 2–3 cores; past what the machine can carry every stream would degrade at once,
    /// refusing the next one keeps the others whole. Per user, sessions are bounded by
    /// --max-broadcasts-per-user: a broadcast has one session, a new one replaces it.
    #[arg(long, env = "STREAMHARD_MAX_SESSIONS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_sessions: u64,

    /// Most UDP datagrams per second one source (IPv4 address, IPv6 /64) may send to the
    /// WebRTC port, with a burst of one second's worth; the excess is dropped before routing
    /// (0: no limit). 3000: a 1080p 8 Mbit/s stream is ~800/s, so a few full-HD publishers
    /// behind one NAT fit, while one host flooding cannot take the reader from everyone.
    #[arg(
        long,
        env = "STREAMHARD_MAX_PEER_PACKETS_PER_SECOND",
        default_value_t = 3000
    )]
    pub max_peer_packets_per_second: u32,

    /// Most login sessions one account keeps; a login past it ends the account's least
    /// recently used one. Every login makes one (each lasts up to --session-lifetime-days),
    /// so without a cap a script logging in in a loop would grow the table without end.
    #[arg(long, env = "STREAMHARD_MAX_LOGIN_SESSIONS_PER_USER", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_login_sessions_per_user: u64,

    /// Most event streams (GET /api/broadcasts/{id}/events) one user's broadcasts may have
    /// open at once; past it 429 with Retry-After. A studio tab holds one; 8 leaves room for
    /// a few tabs and a dashboard.
    #[arg(long, env = "STREAMHARD_MAX_EVENT_STREAMS_PER_USER", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_event_streams_per_user: u64,

    /// Most event streams open on this node at once, all users together; past it 503 with
    /// Retry-After. Each renders its broadcast twice a second.
    #[arg(long, env = "STREAMHARD_MAX_EVENT_STREAMS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_event_streams: u64,

    /// Close a connection whose request head has not fully arrived within this many seconds
    /// (also the idle time allowed between keep-alive requests).
    #[arg(long, env = "STREAMHARD_HEADER_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout_seconds: u64,

    /// Fail a request whose body has not fully arrived within this many seconds.
    #[arg(long, env = "STREAMHARD_BODY_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub body_timeout_seconds: u64,

    /// Most HTTP connections open at once from one client address (0: no limit). Behind a
    /// reverse proxy every client shares the proxy's address: raise it or set 0 there.
    #[arg(
        long,
        env = "STREAMHARD_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64
    )]
    pub max_connections_per_client: usize,

    /// On SIGTERM/Ctrl-C, how long open HTTP requests (event streams included) may take to
    /// finish before they are closed and the relay unpublishes every destination.
    #[arg(long, env = "STREAMHARD_DRAIN_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub drain_seconds: u64,

    /// This node's id in a shared database: at start a node ends only the broadcasts it left
    /// open itself. Default: an id made on first start and kept in <data-dir>/node-id. Give
    /// each node its own, stable one (e.g. a StatefulSet pod's name).
    #[arg(long, env = "STREAMHARD_NODE_ID", value_parser = crate::node_id::parse)]
    pub node_id: Option<String>,

    /// Serve the studio's files from this directory instead of the copy built into the binary
    /// (development: edit `crates/web/studio/` and reload the page, no rebuild).
    #[arg(long, env = "STREAMHARD_STUDIO_DIR")]
    pub studio_dir: Option<PathBuf>,

    /// Refuse POST /api/auth/signup: accounts are created with `streamhard user add` only.
    #[arg(long, env = "STREAMHARD_DISABLE_SIGNUP")]
    pub disable_signup: bool,

    /// Mark the session cookie Secure. Needed when served over HTTPS by a TLS proxy; implied
    /// by an https:// --public-url.
    #[arg(long, env = "STREAMHARD_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// A login session unused for this many hours ends.
    #[arg(long, env = "STREAMHARD_SESSION_IDLE_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=24 * 365))]
    pub session_idle_hours: u64,

    /// A login session ends this many days after login, however much it is used.
    #[arg(long, env = "STREAMHARD_SESSION_LIFETIME_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..=365))]
    pub session_lifetime_days: u64,

    /// Behind a reverse proxy: take the client address (for login throttling) from the last
    /// X-Forwarded-For entry. Only set this when a proxy you run always sets that header.
    #[arg(long, env = "STREAMHARD_TRUST_PROXY_HEADERS")]
    pub trust_proxy_headers: bool,

    /// Consecutive failed connection attempts after which a destination gives up
    /// (so a revoked key does not hammer a platform).
    #[arg(long, env = "STREAMHARD_DESTINATION_MAX_FAILURES", default_value_t = 8)]
    pub destination_max_failures: u32,

    /// When a publisher vanishes without ending its session (network change, ICE timeout, a
    /// closed laptop), how long the broadcast waits for it — a new WHIP session or an ICE
    /// restart — while every destination gets the last picture and silence, so platforms see
    /// one uninterrupted stream. Then the destinations unpublish and the broadcast ends. Also
    /// how long a broadcast waits after its publisher ended its session. 0: end at once.
    #[arg(long, env = "STREAMHARD_PUBLISHER_GRACE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub publisher_grace_seconds: u64,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `streamhard_relay=debug`.
    #[arg(long, env = "STREAMHARD_LOG", default_value = "info")]
    pub log: String,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if (0.5..=60.0).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 0.5 and 60 seconds".into())
    }
}

impl ServeArgs {
    /// Where the HTTPS certificate comes from; `None` serves plain HTTP.
    pub fn tls(&self) -> Option<crate::tls::TlsSource> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ if self.tls_self_signed => Some(crate::tls::TlsSource::SelfSigned {
                data_dir: self.storage.data_dir.clone(),
            }),
            _ => None,
        }
    }

    /// The cookie must be Secure when browsers reach us over HTTPS.
    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure
            || self.tls().is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_hours * 3600)
    }

    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.session_lifetime_days * 24 * 3600)
    }

    pub fn keyframe_interval(&self) -> Duration {
        Duration::from_secs_f64(self.keyframe_interval)
    }

    /// Which addresses WebRTC sessions advertise as ICE candidates.
    pub fn candidate_policy(&self) -> streamhard_relay::CandidatePolicy {
        streamhard_relay::CandidatePolicy {
            interfaces: !self.no_interface_candidates,
            only: self.ice_interfaces.clone(),
            public_ips: self.public_ips.clone(),
        }
    }

    /// The ingest socket: every address, dual-stack (it falls back to IPv4 alone on hosts
    /// without IPv6). Candidates say which of its addresses publishers are told about.
    pub fn udp_bind(&self) -> std::net::SocketAddr {
        (std::net::Ipv6Addr::UNSPECIFIED, self.udp_port).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_runs_with_zero_configuration() {
        let cli = Cli::try_parse_from(["streamhard", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.listen, "127.0.0.1:8080".parse().unwrap());
        assert!(
            matches!(args.storage.location(), Location::Sqlite(p) if p == std::path::Path::new("data/streamhard.db"))
        );
        assert!(!args.disable_signup && !args.cookie_secure());
        assert!(args.tls().is_none(), "plain HTTP by default");
        assert_eq!(args.udp_port, 8189);
        assert!(!args.allow_private_destinations);
        assert_eq!(
            args.candidate_policy(),
            streamhard_relay::CandidatePolicy::all_interfaces()
        );
        assert_eq!(args.keyframe_interval(), Duration::from_secs(2));
    }

    #[test]
    fn public_ips_are_repeatable_and_add_to_the_interface_candidates() {
        let cli = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--listen",
            "0.0.0.0:80",
            "--public-ip",
            "203.0.113.7",
            "--public-ip",
            "2001:db8::7",
            "--ice-interfaces",
            "eth0,wlan0",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        let policy = args.candidate_policy();
        assert!(policy.interfaces);
        assert_eq!(policy.only, ["eth0", "wlan0"]);
        assert_eq!(
            policy.public_ips,
            [
                "203.0.113.7".parse::<IpAddr>().unwrap(),
                "2001:db8::7".parse::<IpAddr>().unwrap()
            ]
        );
    }

    #[test]
    fn interface_candidates_can_be_turned_off_only_with_a_public_ip() {
        assert!(
            Cli::try_parse_from(["streamhard", "serve", "--no-interface-candidates"]).is_err(),
            "nothing would be advertised"
        );
        let cli = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--no-interface-candidates",
            "--public-ip",
            "203.0.113.7",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(!args.candidate_policy().interfaces);
    }

    #[test]
    fn absurd_values_are_refused_at_start() {
        assert!(Cli::try_parse_from(["streamhard", "serve", "--keyframe-interval", "0"]).is_err());
        assert!(Cli::try_parse_from(["streamhard", "serve", "--aac-bitrate", "1"]).is_err());
        assert!(Cli::try_parse_from(["streamhard", "serve", "--session-idle-hours", "0"]).is_err());
    }

    #[test]
    fn a_database_url_must_be_postgres_and_is_never_echoed() {
        let err = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--database-url",
            "mysql://u:hunter2@db/x",
        ])
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let cli = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--database-url",
            "postgres://u:hunter2@db/x",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(matches!(args.storage.location(), Location::Postgres(_)));
        assert!(!format!("{args:?}").contains("hunter2"));
    }

    #[test]
    fn an_https_public_url_makes_the_cookie_secure() {
        let cli = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--public-url",
            "https://live.example.com",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(args.cookie_secure());
    }

    #[test]
    fn a_tls_certificate_needs_its_key_and_excludes_self_signed() {
        for partial in [
            ["--tls-cert", "/etc/sh/cert.pem"],
            ["--tls-key", "/etc/sh/key.pem"],
        ] {
            let err = Cli::try_parse_from(["streamhard", "serve"].into_iter().chain(partial))
                .unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{err}"
            );
        }
        let both = [
            "streamhard",
            "serve",
            "--tls-cert",
            "/etc/sh/cert.pem",
            "--tls-key",
            "/etc/sh/key.pem",
        ];
        let with_self_signed = both.into_iter().chain(["--tls-self-signed"]);
        assert!(Cli::try_parse_from(with_self_signed).is_err());
        let Command::Serve(args) = Cli::try_parse_from(both).unwrap().command else {
            panic!("serve")
        };
        assert!(matches!(
            args.tls(),
            Some(crate::tls::TlsSource::Files { cert, key })
                if cert == std::path::Path::new("/etc/sh/cert.pem")
                    && key == std::path::Path::new("/etc/sh/key.pem")
        ));
        assert!(args.cookie_secure(), "HTTPS makes the cookie Secure");
    }

    #[test]
    fn a_self_signed_certificate_lives_in_the_data_dir() {
        let cli = Cli::try_parse_from([
            "streamhard",
            "serve",
            "--tls-self-signed",
            "--data-dir",
            "/srv/sh",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(matches!(
            args.tls(),
            Some(crate::tls::TlsSource::SelfSigned { data_dir }) if data_dir == std::path::Path::new("/srv/sh")
        ));
        assert!(args.cookie_secure());
    }

    #[test]
    fn user_commands_share_the_storage_flags() {
        let cli = Cli::try_parse_from([
            "streamhard",
            "user",
            "add",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--password-stdin",
            "--data-dir",
            "/srv/sh",
        ])
        .unwrap();
        let Command::User(user) = cli.command else {
            panic!("user")
        };
        assert!(
            matches!(user.storage.location(), Location::Sqlite(p) if p == std::path::Path::new("/srv/sh/streamhard.db"))
        );
        assert!(matches!(
            user.command,
            UserCommand::Add {
                password_stdin: true,
                ..
            }
        ));
    }
}
