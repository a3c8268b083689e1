//! RTMP destination URLs: parsing, the app/stream split, and redaction.
//!
//! A destination URL *is* a secret: the stream key sits in the path (Twitch, YouTube,
//! Facebook, Kick), sometimes in the query, sometimes as userinfo. [`RtmpUrl`] therefore keeps
//! the key in a [`Secret`] and prints only its redacted form, through `Debug` and `Display`
//! alike, and no [`UrlError`] contains any part of the input.
//!
//! The app/stream split follows ffmpeg, which is what users test their URLs with and what
//! platforms document:
//! - `rtmp://host/app/KEY` → app `app`, stream `KEY`;
//! - `rtmp://host/app/instance/KEY` → app `app/instance` (two segments once there are three
//!   or more, as LinkedIn and Wowza-style servers need), stream `KEY` — and with more
//!   segments, the stream keeps the rest (`a/b/c/d` → `a/b` + `c/d`);
//! - a `:` in the second segment means it is a stream name (`app/mp4:name/x` → `app` +
//!   `mp4:name/x`);
//! - the query stays where it is written: after the key it is part of the stream name
//!   (`live_123?bandwidthtest=true`), after the app it is part of the app (YouTube's backup
//!   ingest `rtmp://b.rtmp.youtube.com/live2?backup=1/KEY`).
//!
//! The parser is our own rather than a general URL library's: RTMP URLs are not
//! WHATWG-special, and a general parser would percent-encode or normalise characters of a key
//! that the platform compares byte for byte.

use std::fmt;
use std::net::Ipv6Addr;

use crate::secret::Secret;

/// Longest URL accepted; real ingest URLs are under 300 bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest host name (RFC 1035).
const MAX_HOST_LEN: usize = 253;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain RTMP over TCP, port 1935 by default.
    Rtmp,
    /// RTMP over TLS, port 443 by default.
    Rtmps,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Rtmp => "rtmp",
            Scheme::Rtmps => "rtmps",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Rtmp => 1935,
            Scheme::Rtmps => 443,
        }
    }
}

/// Why a URL was refused. Never contains any part of the URL: it may hold a key.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL must start with rtmp:// or rtmps://")]
    NotAUrl,
    #[error("only rtmp:// and rtmps:// URLs are supported")]
    Scheme,
    #[error("the URL has no valid host")]
    Host,
    #[error("the URL has an invalid port")]
    Port,
    #[error("the URL needs an application and a stream key, as in rtmp://host/app/KEY")]
    NoStream,
    #[error("the URL contains spaces, control characters or a '#'")]
    BadCharacters,
}

/// A parsed `rtmp://` or `rtmps://` destination. Holds the key; prints only the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    scheme: Scheme,
    /// Lower-case name, IPv4 literal, or IPv6 literal without brackets.
    host: String,
    port: u16,
    /// Whether the port was written; `tcUrl` repeats the URL as the user gave it, as OBS does.
    explicit_port: bool,
    /// `connect`'s `app`, possibly with a query (`live2?backup=1`).
    app: String,
    /// The name given to `publish`: the key, plus its query if any.
    stream: Secret,
    /// `user:password` before the host. RTMP has no standard use for it (some servers take
    /// it for their own auth schemes); it is kept, secret, and sent nowhere.
    userinfo: Option<Secret>,
}

impl RtmpUrl {
    /// Parses a destination URL (surrounding whitespace, as pasted, is ignored).
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        if input.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let input = input.trim();
        if input
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '#')
        {
            return Err(UrlError::BadCharacters);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::NotAUrl)?;
        let scheme = if scheme.eq_ignore_ascii_case("rtmp") {
            Scheme::Rtmp
        } else if scheme.eq_ignore_ascii_case("rtmps") {
            Scheme::Rtmps
        } else {
            return Err(UrlError::Scheme);
        };
        let (authority, path) = rest.split_once('/').ok_or(UrlError::NoStream)?;
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(Secret::new(userinfo)), host_port),
            None => (None, authority),
        };
        let (host, port) = parse_host_port(host_port)?;
        let (app, stream) = split_app_and_stream(path.trim_end_matches('/'))?;
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            explicit_port: port.is_some(),
            app: app.to_owned(),
            stream: Secret::new(stream),
            userinfo,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host to connect to (and, for RTMPS, the TLS server name).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application (`connect`'s `app`). Not secret: platforms put their app name here.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The stream name for `publish`: the stream key (with its query, if any).
    pub fn stream_key(&self) -> &Secret {
        &self.stream
    }

    /// The `user:password` part, if the URL had one.
    pub fn userinfo(&self) -> Option<&Secret> {
        self.userinfo.as_ref()
    }

    /// `tcUrl` for `connect`: scheme, host, port as written, and app — no userinfo, no key.
    pub fn tc_url(&self) -> String {
        format!("{}/{}", self.origin(), self.app)
    }

    /// The form safe to show and log: `rtmps://host:443/app/…` — no userinfo, no query, and
    /// nothing after the application's first segment. A second app segment may be a key
    /// (`rtmp://host/live/KEY/extra` splits as app `live/KEY`, as ffmpeg does), so it is never
    /// shown.
    pub fn redacted(&self) -> String {
        let app = self.app.split(['?', '/']).next().unwrap_or_default();
        format!("{}/{app}/…", self.origin())
    }

    fn origin(&self) -> String {
        let scheme = self.scheme.as_str();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.explicit_port {
            format!("{scheme}://{host}:{}", self.port)
        } else {
            format!("{scheme}://{host}")
        }
    }
}

impl fmt::Debug for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RtmpUrl({})", self.redacted())
    }
}

impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → (host, port if written).
fn parse_host_port(text: &str) -> Result<(String, Option<u16>), UrlError> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']').ok_or(UrlError::Host)?;
        let ip: Ipv6Addr = v6.parse().map_err(|_| UrlError::Host)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::Host)?),
        };
        (ip.to_string(), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if host.is_empty() || host.len() > MAX_HOST_LEN || !host.chars().all(valid) {
            return Err(UrlError::Host);
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        // `host:` with nothing after it means the default port, as in every URL syntax.
        None | Some("") => None,
        Some(digits) => match digits.parse::<u16>() {
            Ok(0) | Err(_) => return Err(UrlError::Port),
            Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            Ok(_) => return Err(UrlError::Port),
        },
    };
    Ok((host, port))
}

/// The path without its leading `/` → (app, stream), splitting as ffmpeg does (module docs).
fn split_app_and_stream(path: &str) -> Result<(&str, &str), UrlError> {
    let (first, rest) = path.split_once('/').ok_or(UrlError::NoStream)?;
    let (app, stream) = match rest.split_once('/') {
        Some((second, tail)) if !second.contains(':') => {
            (&path[..first.len() + 1 + second.len()], tail)
        }
        _ => (first, rest),
    };
    if first.is_empty() || app.ends_with('/') || stream.is_empty() {
        return Err(UrlError::NoStream);
    }
    Ok((app, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn parts(input: &str) -> (Scheme, String, u16, String, String) {
        let url = RtmpUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let key = url.stream_key().expose().to_owned();
        (
            url.scheme(),
            url.host().to_owned(),
            url.port(),
            url.app().to_owned(),
            key,
        )
    }

    #[track_caller]
    fn assert_parts(input: &str, want: (Scheme, &str, u16, &str, &str)) {
        let (scheme, host, port, app, key) = parts(input);
        let got = (scheme, host.as_str(), port, app.as_str(), key.as_str());
        assert_eq!(got, want, "{input}");
    }

    #[test]
    fn splits_the_platforms_urls_into_app_and_key() {
        use Scheme::*;
        let twitch = "rtmp://live.twitch.tv/app/live_123_abc";
        assert_parts(
            twitch,
            (Rtmp, "live.twitch.tv", 1935, "app", "live_123_abc"),
        );
        let youtube = "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl";
        assert_parts(
            youtube,
            (Rtmp, "a.rtmp.youtube.com", 1935, "live2", "abcd-efgh-ijkl"),
        );
        let facebook = "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-0-Abc";
        let fb_host = "live-api-s.facebook.com";
        assert_parts(facebook, (Rtmps, fb_host, 443, "rtmp", "FB-123-0-Abc"));
        let kick = "rtmps://fa723fc1b171.global-contribute.live-video.net:443/app/sk_us-west";
        let kick_host = "fa723fc1b171.global-contribute.live-video.net";
        assert_parts(kick, (Rtmps, kick_host, 443, "app", "sk_us-west"));
        let linkedin = "rtmps://1-abc.channel.media.azure.net:2935/live/0123abcd/key_1";
        let li_host = "1-abc.channel.media.azure.net";
        assert_parts(linkedin, (Rtmps, li_host, 2935, "live/0123abcd", "key_1"));
    }

    #[test]
    fn apps_take_two_segments_when_there_are_three_or_more() {
        use Scheme::*;
        assert_parts(
            "rtmp://host/app/instance/key",
            (Rtmp, "host", 1935, "app/instance", "key"),
        );
        assert_parts("rtmp://host/a/b/c/d", (Rtmp, "host", 1935, "a/b", "c/d"));
        assert_parts(
            "rtmp://host/app/mp4:name/x",
            (Rtmp, "host", 1935, "app", "mp4:name/x"),
        );
    }

    #[test]
    fn a_query_belongs_to_the_segment_it_follows() {
        use Scheme::*;
        let test = "rtmp://live.twitch.tv/app/live_1?bandwidthtest=true";
        let want = (
            Rtmp,
            "live.twitch.tv",
            1935,
            "app",
            "live_1?bandwidthtest=true",
        );
        assert_parts(test, want);
        let backup = "rtmp://b.rtmp.youtube.com/live2?backup=1/KEY";
        assert_parts(
            backup,
            (Rtmp, "b.rtmp.youtube.com", 1935, "live2?backup=1", "KEY"),
        );
        assert_parts("rtmp://h/live/?key=K", (Rtmp, "h", 1935, "live", "?key=K"));
    }

    #[test]
    fn accepts_ipv6_literals_ports_case_and_surrounding_whitespace() {
        use Scheme::*;
        assert_parts("rtmp://[::1]:1936/live/k", (Rtmp, "::1", 1936, "live", "k"));
        assert_parts(
            "rtmps://[2001:db8::1]/live/k",
            (Rtmps, "2001:db8::1", 443, "live", "k"),
        );
        assert_parts(
            "RTMP://Example.COM/live/Key",
            (Rtmp, "example.com", 1935, "live", "Key"),
        );
        assert_parts(
            "rtmp://127.0.0.1:/live/k",
            (Rtmp, "127.0.0.1", 1935, "live", "k"),
        );
        assert_parts("  rtmp://h/live/k/\n", (Rtmp, "h", 1935, "live", "k"));
    }

    #[test]
    fn keeps_the_key_byte_for_byte_without_decoding_escapes() {
        assert_eq!(parts("rtmp://h/app/a%20b+c~d").4, "a%20b+c~d");
    }

    #[test]
    fn tc_url_repeats_scheme_host_port_and_app_but_never_the_key_or_userinfo() {
        let url =
            RtmpUrl::parse("rtmps://user:pw@live-api-s.facebook.com:443/rtmp/SECRET").unwrap();
        assert_eq!(url.tc_url(), "rtmps://live-api-s.facebook.com:443/rtmp");
        assert_eq!(url.userinfo().map(Secret::expose), Some("user:pw"));
        let url = RtmpUrl::parse("rtmp://[::1]/a/b/SECRET").unwrap();
        assert_eq!(url.tc_url(), "rtmp://[::1]/a/b");
    }

    #[test]
    fn debug_display_and_redacted_hide_key_query_and_userinfo() {
        let input = "rtmp://alice:hunter2@live.twitch.tv/app/live_SECRET?token=QSECRET";
        let url = RtmpUrl::parse(input).unwrap();
        assert_eq!(url.redacted(), "rtmp://live.twitch.tv/app/…");
        let backup = RtmpUrl::parse("rtmp://b.rtmp.youtube.com/live2?SECRET=1/SECRET").unwrap();
        assert_eq!(backup.redacted(), "rtmp://b.rtmp.youtube.com/live2/…");
        let fb = RtmpUrl::parse("rtmps://live-api-s.facebook.com:443/rtmp/FB-SECRET").unwrap();
        assert_eq!(fb.redacted(), "rtmps://live-api-s.facebook.com:443/rtmp/…");
        for shown in [format!("{url:?}"), format!("{url}"), format!("{backup:?}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("alice"),
                "{shown}"
            );
        }
        assert_eq!(format!("{url:?}"), "RtmpUrl(rtmp://live.twitch.tv/app/…)");
    }

    #[test]
    fn redaction_keeps_only_the_first_segment_of_a_multi_segment_app() {
        let url = RtmpUrl::parse("rtmp://host/live/KEY/extra").unwrap();
        assert_eq!(url.app(), "live/KEY");
        assert_eq!(url.redacted(), "rtmp://host/live/…");
    }

    proptest::proptest! {
        /// Keys are upper-case, everything else in the URL lower-case: no upper-case letter may
        /// survive redaction, whatever the URL's shape.
        #[test]
        fn no_part_of_a_key_survives_redaction_in_any_url_shape(
            key in "[A-Z]{1,40}",
            second in "[A-Z]{1,12}",
            host in "[a-z]{1,12}(\\.[a-z]{2,6}){0,2}",
            app in "[a-z]{1,10}",
            port in proptest::option::of(1u16..),
            shape in 0usize..8,
            userinfo in proptest::bool::ANY,
            tls in proptest::bool::ANY,
        ) {
            let scheme = if tls { "rtmps" } else { "rtmp" };
            let auth = if userinfo { format!("{second}:{key}@") } else { String::new() };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let path = match shape {
                0 => format!("{app}/{key}"),
                1 => format!("{app}/{key}/{second}"),
                2 => format!("{app}/{second}/{key}"),
                3 => format!("{app}/{key}?{second}={key}"),
                4 => format!("{app}?{second}={key}/{key}"),
                5 => format!("{app}/{key}/{second}/{key}"),
                6 => format!("{app}/mp4:{key}/{second}"),
                _ => format!("{app}/{second}{key}?x"),
            };
            let input = format!("{scheme}://{auth}{host}{port}/{path}");
            // Every shape here is a URL a user could paste: all of them parse.
            let url = RtmpUrl::parse(&input);
            proptest::prop_assert!(url.is_ok(), "{input}: {url:?}");
            if let Ok(url) = url {
                let debug = format!("{url:?}");
                let debug = debug.trim_start_matches("RtmpUrl(").to_owned();
                for shown in [url.redacted(), format!("{url}"), debug] {
                    proptest::prop_assert!(
                        !shown.chars().any(|c| c.is_ascii_uppercase()),
                        "{input} shown as {shown}"
                    );
                }
            }
        }
    }

    #[test]
    fn refuses_other_schemes_missing_parts_and_junk_without_echoing_it() {
        let cases = [
            ("http://host/app/SECRETKEY", UrlError::Scheme),
            ("rtmpe://host/app/SECRETKEY", UrlError::Scheme),
            ("host/app/SECRETKEY", UrlError::NotAUrl),
            ("rtmp://host/SECRETKEY", UrlError::NoStream),
            ("rtmp://host/app/", UrlError::NoStream),
            ("rtmp://host", UrlError::NoStream),
            ("rtmp://host//SECRETKEY", UrlError::NoStream),
            ("rtmp://host/a//SECRETKEY", UrlError::NoStream),
            ("rtmp:///app/SECRETKEY", UrlError::Host),
            ("rtmp://ho st/app/SECRETKEY", UrlError::BadCharacters),
            ("rtmp://hóst/app/SECRETKEY", UrlError::Host),
            ("rtmp://[::1/app/SECRETKEY", UrlError::Host),
            ("rtmp://[nope]/app/SECRETKEY", UrlError::Host),
            ("rtmp://[::1]x/app/SECRETKEY", UrlError::Host),
            ("rtmp://host:99999/app/SECRETKEY", UrlError::Port),
            ("rtmp://host:0/app/SECRETKEY", UrlError::Port),
            ("rtmp://host:+80/app/SECRETKEY", UrlError::Port),
            ("rtmp://host/app/SEC RETKEY", UrlError::BadCharacters),
            ("rtmp://host/app/SECRETKEY#frag", UrlError::BadCharacters),
            ("rtmp://host/app/SECRET\u{7}KEY", UrlError::BadCharacters),
        ];
        for (input, err) in cases {
            let e = RtmpUrl::parse(input).unwrap_err();
            assert_eq!(e, err, "{input}");
            assert!(!e.to_string().contains("SECRETKEY") && !format!("{e:?}").contains("SECRET"));
        }
    }

    #[test]
    fn refuses_urls_longer_than_the_limit() {
        let long = format!("rtmp://h/a/{}", "k".repeat(MAX_URL_LEN));
        assert_eq!(RtmpUrl::parse(&long), Err(UrlError::TooLong));
        let fits = format!("rtmp://h/a/{}", "k".repeat(MAX_URL_LEN - 11));
        assert!(RtmpUrl::parse(&fits).is_ok());
    }
}
