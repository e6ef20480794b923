//! Fetching the images of `mediaUrls`, safely, and the built-in random set of Ayrshare's test
//! helpers (`randomPost`, `randomMediaUrl`).
//!
//! A media URL is the client's, so fetching it is fetching on the client's behalf from
//! inside the operator's network. Every fetch is therefore bounded (size, time, content type)
//! and, unless `media.allow_private`, no connection is ever made to a non-public address:
//! the host is resolved by [`PublicOnly`], which hands reqwest only the public addresses it
//! checked (so a DNS answer cannot change between the check and the connect), literal IPs
//! are checked before the request and every redirect hop is checked again.

use crate::configuration::MediaSettings;
use crate::networks::Media;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Image types the networks accept (X, Threads and Bluesky all take these).
pub const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// File extensions that mark a video URL (video is not published by this gateway).
const VIDEO_EXTENSIONS: &[&str] = &[
    ".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv", ".mpeg", ".mpg", ".3gp",
];

/// The built-in quotes `randomPost: true` picks from.
pub const RANDOM_QUOTES: &[&str] = &[
    "Eighty percent of success is showing up. - Woody Allen",
    "The best way to predict the future is to invent it. - Alan Kay",
    "Simplicity is prerequisite for reliability. - Edsger W. Dijkstra",
    "Well done is better than well said. - Benjamin Franklin",
    "Make it work, make it right, make it fast. - Kent Beck",
    "What gets measured gets managed. - Peter Drucker",
];

/// The built-in images `randomMediaUrl: true` picks from, served at
/// `GET /media/random/{n}.png` (n from 1).
pub const RANDOM_IMAGES: &[&[u8]] = &[
    include_bytes!("../../assets/random/1.png"),
    include_bytes!("../../assets/random/2.png"),
    include_bytes!("../../assets/random/3.png"),
    include_bytes!("../../assets/random/4.png"),
];

/// Path prefix of the random images on the gateway.
pub const RANDOM_IMAGE_PATH: &str = "/media/random/";

/// The built-in image `name` (`"3.png"`), if there is one.
pub fn random_image(name: &str) -> Option<&'static [u8]> {
    let n: usize = name.strip_suffix(".png")?.parse().ok()?;
    RANDOM_IMAGES.get(n.checked_sub(1)?).copied()
}

/// Why a media URL cannot be used. The messages are for the client: they name the URL's
/// problem, never an internal address the host resolved to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Not a URL, or not http(s).
    #[error("is not a valid https URL")]
    BadUrl,
    /// `http://` while only https is allowed.
    #[error("must use https")]
    NotHttps,
    /// The host is (or resolves to) a loopback, private, link-local or other non-public
    /// address.
    #[error("points to a private or loopback address, which this gateway does not fetch")]
    PrivateAddress,
    /// The host does not resolve.
    #[error("has a host name that does not resolve")]
    Unresolvable,
    /// A video (by extension or content type).
    #[error("is a video; this gateway publishes images only")]
    Video,
    /// Not an image type the networks accept.
    #[error("has content type {0:?}; send a JPEG, PNG, GIF or WebP image")]
    ContentType(String),
    /// Larger than allowed.
    #[error("is larger than {0} bytes")]
    TooLarge(usize),
    /// Not downloaded within the time allowed.
    #[error("could not be downloaded in time")]
    Timeout,
    /// The server answered with an error status.
    #[error("could not be downloaded (HTTP {0})")]
    Status(u16),
    /// Any other download failure.
    #[error("could not be downloaded ({0})")]
    Download(String),
}

/// `url` as messages and logs show it: without its query string and fragment, which may
/// carry a signature or a token (pre-signed storage URLs).
pub fn display_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let mut shown: String = url[..end].chars().take(200).collect();
    if end < url.len() || url[..end].chars().count() > 200 {
        shown.push('…');
    }
    shown
}

/// Whether `url` names a video by its extension (query and fragment ignored).
pub fn looks_like_video(url: &str) -> bool {
    let path = reqwest::Url::parse(url)
        .map(|u| u.path().to_ascii_lowercase())
        .unwrap_or_else(|_| url.to_ascii_lowercase());
    VIDEO_EXTENSIONS.iter().any(|ext| path.ends_with(ext))
}

/// Whether `ip` is an address on the public internet (not loopback, private, link-local,
/// shared, documentation, multicast or reserved; IPv4 inside IPv6 is judged as IPv4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// A DNS resolver that answers only public addresses, so reqwest connects to nothing else.
struct PublicOnly;

#[derive(Debug, thiserror::Error)]
#[error("no public address")]
struct NoPublicAddress;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(NoPublicAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Downloads and checks media URLs within the `[media]` settings.
#[derive(Clone)]
pub struct MediaFetcher {
    client: reqwest::Client,
    settings: MediaSettings,
    /// `{public_url}/media/random/`: the gateway's own random images, answered from memory.
    own_random: String,
}

impl MediaFetcher {
    /// A fetcher for `settings`; `public_url` is the gateway's own base URL, whose random
    /// images are never fetched over the network.
    pub fn new(settings: &MediaSettings, public_url: &str) -> Self {
        let allow_http = settings.allow_http;
        let allow_private = settings.allow_private;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                return attempt.error("too many redirects");
            }
            match check_url_shape(attempt.url(), allow_http, allow_private) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(settings.timeout())
            .redirect(redirects)
            // A proxy would resolve the host itself, past the check.
            .no_proxy()
            .user_agent(concat!("postgate/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(PublicOnly);
        }
        Self {
            client: builder
                .build()
                .expect("a reqwest client with timeouts, a redirect policy and a resolver builds"),
            settings: settings.clone(),
            own_random: format!("{}{RANDOM_IMAGE_PATH}", public_url.trim_end_matches('/')),
        }
    }

    /// The URL of the gateway's own random image `n` (0-based, wrapped).
    pub fn random_image_url(&self, n: usize) -> String {
        format!("{}{}.png", self.own_random, n % RANDOM_IMAGES.len() + 1)
    }

    /// The gateway's own random image that `url` names, if it names one.
    fn own_image(&self, url: &str) -> Option<&'static [u8]> {
        random_image(url.strip_prefix(&self.own_random)?)
    }

    /// Checks `url` without downloading it (for networks that fetch it themselves): its
    /// shape, that it is no video, and that its host resolves to public addresses only.
    pub async fn check(&self, url: &str) -> Result<Media, MediaError> {
        if self.own_image(url).is_some() {
            return Ok(Media {
                url: url.to_owned(),
                content_type: "image/png".into(),
                bytes: None,
            });
        }
        let parsed = self.parse(url)?;
        if !self.settings.allow_private {
            let host = parsed.host_str().ok_or(MediaError::BadUrl)?;
            let port = parsed.port_or_known_default().unwrap_or(443);
            let addrs: Vec<SocketAddr> = tokio::time::timeout(
                Duration::from_millis(self.settings.connect_timeout_ms),
                tokio::net::lookup_host((host.trim_start_matches('[').trim_end_matches(']'), port)),
            )
            .await
            .map_err(|_| MediaError::Unresolvable)?
            .map_err(|_| MediaError::Unresolvable)?
            .collect();
            if addrs.is_empty() {
                return Err(MediaError::Unresolvable);
            }
            if addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(MediaError::PrivateAddress);
            }
        }
        Ok(Media {
            url: url.to_owned(),
            content_type: guess_type(parsed.path()).to_owned(),
            bytes: None,
        })
    }

    /// Downloads `url`: at most `media.max_bytes`, within `media.timeout_ms`, an image type
    /// only, never from a non-public address (unless allowed).
    pub async fn fetch(&self, url: &str) -> Result<Media, MediaError> {
        if let Some(bytes) = self.own_image(url) {
            return Ok(Media {
                url: url.to_owned(),
                content_type: "image/png".into(),
                bytes: Some(bytes.to_vec()),
            });
        }
        // The same checks as for a URL not downloaded, for a clear error; the resolver then
        // enforces them on the connection itself.
        self.check(url).await?;
        let max = self.settings.max_bytes;
        let download = async {
            let mut resp = self
                .client
                .get(url)
                .send()
                .await
                .map_err(|e| download_error(&e))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(MediaError::Status(status.as_u16()));
            }
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                })
                .unwrap_or_default();
            // A common misspelling of JPEG's type.
            let content_type = if content_type == "image/jpg" {
                "image/jpeg".to_owned()
            } else {
                content_type
            };
            if content_type.starts_with("video/") {
                return Err(MediaError::Video);
            }
            if !IMAGE_TYPES.contains(&content_type.as_str()) {
                return Err(MediaError::ContentType(content_type));
            }
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(MediaError::TooLarge(max));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| download_error(&e))? {
                if bytes.len() + chunk.len() > max {
                    return Err(MediaError::TooLarge(max));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Media {
                url: url.to_owned(),
                content_type,
                bytes: Some(bytes),
            })
        };
        // reqwest's timeout covers the body too; this one also bounds a slow DNS answer.
        tokio::time::timeout(
            self.settings.timeout() + Duration::from_millis(500),
            download,
        )
        .await
        .map_err(|_| MediaError::Timeout)?
    }

    /// Checks every URL of a post, downloading them when `download` (a network that wants
    /// bytes is among its platforms), all at once. The first failure is answered with its URL.
    pub async fn prepare(
        &self,
        urls: &[String],
        download: bool,
    ) -> Result<Vec<Media>, (String, MediaError)> {
        let results = futures::future::join_all(urls.iter().map(|u| async move {
            let r = if download {
                self.fetch(u).await
            } else {
                self.check(u).await
            };
            r.map_err(|e| (u.clone(), e))
        }))
        .await;
        results.into_iter().collect()
    }

    fn parse(&self, url: &str) -> Result<reqwest::Url, MediaError> {
        if looks_like_video(url) {
            return Err(MediaError::Video);
        }
        let parsed = reqwest::Url::parse(url.trim()).map_err(|_| MediaError::BadUrl)?;
        check_url_shape(
            &parsed,
            self.settings.allow_http,
            self.settings.allow_private,
        )?;
        Ok(parsed)
    }
}

/// The checks a URL passes before any resolution: http(s) (https only unless allowed), a
/// host, no credentials, and a literal IP only if public (unless allowed).
fn check_url_shape(
    url: &reqwest::Url,
    allow_http: bool,
    allow_private: bool,
) -> Result<(), MediaError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(MediaError::NotHttps),
        _ => return Err(MediaError::BadUrl),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(MediaError::BadUrl);
    }
    let host = url.host_str().ok_or(MediaError::BadUrl)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match bare.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            // `localhost` and its subdomains may be answered without DNS; refuse them by
            // name too.
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) {
                return Err(MediaError::PrivateAddress);
            }
            None
        }
    };
    if let Some(ip) = ip {
        if !allow_private && !is_public(ip) {
            return Err(MediaError::PrivateAddress);
        }
    }
    Ok(())
}

fn download_error(e: &reqwest::Error) -> MediaError {
    if e.is_timeout() {
        return MediaError::Timeout;
    }
    // The resolver refusing every address, or a redirect to a refused URL.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.is::<NoPublicAddress>() {
            return MediaError::PrivateAddress;
        }
        if let Some(m) = s.downcast_ref::<MediaError>() {
            return m.clone();
        }
        source = s.source();
    }
    if e.is_redirect() {
        return MediaError::Download("too many redirects".into());
    }
    if e.is_connect() {
        return MediaError::Download("could not connect".into());
    }
    MediaError::Download("the connection failed".into())
}

fn guess_type(path: &str) -> &'static str {
    let path = path.to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn url_shapes() {
        let shape = |u: &str, http: bool, private: bool| {
            check_url_shape(&reqwest::Url::parse(u).unwrap(), http, private)
        };
        assert_eq!(
            shape("http://example.com/a.png", false, false),
            Err(MediaError::NotHttps)
        );
        assert_eq!(
            shape("ftp://example.com/a.png", true, true),
            Err(MediaError::BadUrl)
        );
        assert_eq!(
            shape("https://u:p@example.com/a.png", false, false),
            Err(MediaError::BadUrl)
        );
        assert_eq!(
            shape("https://127.0.0.1/a.png", false, false),
            Err(MediaError::PrivateAddress)
        );
        assert_eq!(
            shape("https://[::1]/a.png", false, false),
            Err(MediaError::PrivateAddress)
        );
        assert_eq!(
            shape("https://localhost./a.png", false, false),
            Err(MediaError::PrivateAddress)
        );
        assert_eq!(shape("http://127.0.0.1/a.png", true, true), Ok(()));
        assert_eq!(shape("https://example.com/a.png", false, false), Ok(()));
        assert!(looks_like_video("https://example.com/clip.MP4?x=1"));
        assert_eq!(
            display_url("https://s3.example/a.png?X-Amz-Signature=secret"),
            "https://s3.example/a.png…"
        );
        assert_eq!(
            display_url("https://e.example/a.png"),
            "https://e.example/a.png"
        );
        assert!(!looks_like_video("https://example.com/pic.png"));
    }

    #[tokio::test]
    async fn the_resolver_hands_out_public_addresses_only() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = PublicOnly.resolve(name).await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
    }

    #[test]
    fn random_images_are_pngs() {
        for (i, img) in RANDOM_IMAGES.iter().enumerate() {
            assert!(img.starts_with(b"\x89PNG"));
            assert_eq!(random_image(&format!("{}.png", i + 1)), Some(*img));
        }
        assert_eq!(random_image("0.png"), None);
        assert_eq!(random_image("9.png"), None);
        assert_eq!(random_image("../1.png"), None);
    }
}
