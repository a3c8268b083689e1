//! Which platform a destination belongs to, as a closed list of names.
//!
//! History keeps platform names ("twitch", "youtube") instead of anything derived from the URL
//! text, so the database cannot hold a stream key even by mistake: this enum has no variant
//! that carries a string.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Platform {
    Twitch,
    YouTube,
    Facebook,
    Kick,
    LinkedIn,
    /// Any other RTMP server.
    Custom,
}

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Twitch,
        Platform::YouTube,
        Platform::Facebook,
        Platform::Kick,
        Platform::LinkedIn,
        Platform::Custom,
    ];

    /// The platform of an ingest host name. Unknown hosts are `Custom`.
    pub fn from_host(host: &str) -> Self {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let under = |domain: &str| {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        };
        // Kick ingests through Amazon IVS like Twitch, on its own account's host name.
        if under("kick.com") || under("fa723fc1b171.global-contribute.live-video.net") {
            Platform::Kick
        } else if under("twitch.tv") || under("live-video.net") {
            Platform::Twitch
        } else if under("youtube.com") {
            Platform::YouTube
        } else if under("facebook.com") || under("fbcdn.net") {
            Platform::Facebook
        } else if under("linkedin.com") {
            Platform::LinkedIn
        } else {
            Platform::Custom
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Twitch => "twitch",
            Platform::YouTube => "youtube",
            Platform::Facebook => "facebook",
            Platform::Kick => "kick",
            Platform::LinkedIn => "linkedin",
            Platform::Custom => "custom",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored form: sorted names, each once, comma-separated.
pub(crate) fn join(platforms: &[Platform]) -> String {
    let mut set: Vec<Platform> = platforms.to_vec();
    set.sort();
    set.dedup();
    set.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

pub(crate) fn split(stored: &str) -> Result<Vec<Platform>, String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Platform::parse(s).ok_or_else(|| format!("unknown platform name {s:?}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_ingest_hosts_of_the_big_platforms() {
        for (host, platform) in [
            ("live.twitch.tv", Platform::Twitch),
            ("ingest.global-contribute.live-video.net", Platform::Twitch),
            ("a.rtmp.youtube.com", Platform::YouTube),
            ("A.RTMPS.YOUTUBE.COM.", Platform::YouTube),
            ("live-api-s.facebook.com", Platform::Facebook),
            (
                "fa723fc1b171.global-contribute.live-video.net",
                Platform::Kick,
            ),
            ("rtmp.linkedin.com", Platform::LinkedIn),
            ("rtmp.example.com", Platform::Custom),
            ("10.0.0.7", Platform::Custom),
        ] {
            assert_eq!(Platform::from_host(host), platform, "{host}");
        }
    }

    #[test]
    fn a_look_alike_domain_is_not_the_platform() {
        assert_eq!(Platform::from_host("eviltwitch.tv"), Platform::Custom);
        assert_eq!(
            Platform::from_host("youtube.com.attacker.net"),
            Platform::Custom
        );
    }

    #[test]
    fn stored_lists_are_sorted_deduplicated_and_read_back() {
        let stored = join(&[Platform::YouTube, Platform::Twitch, Platform::YouTube]);
        assert_eq!(stored, "twitch,youtube");
        assert_eq!(
            split(&stored).unwrap(),
            vec![Platform::Twitch, Platform::YouTube]
        );
        assert_eq!(split("").unwrap(), vec![]);
        assert!(split("twitch,rtmp://x/app/key").is_err());
    }
}
