//! OAuth 1.0a (RFC 5849) HMAC-SHA1 verification for the simulated X API: parse the
//! `Authorization: OAuth …` header, rebuild the signature base string from the request as it
//! was called, and compare signatures in constant time.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The protocol parameters of an `Authorization: OAuth …` header.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OAuthHeader {
    /// `oauth_*` parameters other than `oauth_signature` (decoded), in header order.
    pub params: Vec<(String, String)>,
    /// The decoded `oauth_signature`.
    pub signature: String,
}

impl OAuthHeader {
    /// The decoded value of one protocol parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Not an `OAuth` header, or a parameter is not `name="value"`.
    Malformed,
    /// A parameter appears twice (RFC 5849 §3.2).
    Duplicate,
    /// `oauth_signature` is absent.
    NoSignature,
}

/// Parses `OAuth k="v", k2="v2"` (RFC 5849 §3.5.1). `realm` is dropped: it is never signed.
pub fn parse_header(header: &str) -> Result<OAuthHeader, HeaderError> {
    let rest = header
        .trim_start()
        .strip_prefix("OAuth ")
        .or_else(|| header.trim_start().strip_prefix("oauth "))
        .ok_or(HeaderError::Malformed)?;
    let mut out = OAuthHeader::default();
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or(HeaderError::Malformed)?;
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or(HeaderError::Malformed)?;
        let k = percent_decode(k.trim()).ok_or(HeaderError::Malformed)?;
        let v = percent_decode(v).ok_or(HeaderError::Malformed)?;
        if k == "realm" {
            continue;
        }
        if k == "oauth_signature" {
            if signature.replace(v).is_some() {
                return Err(HeaderError::Duplicate);
            }
        } else {
            if out.params.iter().any(|(n, _)| *n == k) {
                return Err(HeaderError::Duplicate);
            }
            out.params.push((k, v));
        }
    }
    out.signature = signature.ok_or(HeaderError::NoSignature)?;
    Ok(out)
}

/// RFC 3986 percent-encoding as RFC 5849 §3.6 wants it: unreserved characters stay,
/// everything else is `%XX` with uppercase hex.
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// Decodes `%XX` escapes (no `+` translation: header values are RFC 3986-encoded).
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The base string URI (RFC 5849 §3.4.1.2): lowercase scheme and host, no default port, the
/// path, no query.
pub fn base_string_uri(scheme: &str, host: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let host = match (scheme.as_str(), host.rsplit_once(':')) {
        ("http", Some((h, "80"))) | ("https", Some((h, "443"))) => h.to_owned(),
        _ => host,
    };
    let path = if path.is_empty() { "/" } else { path };
    format!("{scheme}://{host}{path}")
}

/// The signature base string (RFC 5849 §3.4.1): `METHOD&enc(uri)&enc(normalized params)`.
/// `params` are decoded name/value pairs: query, form body (when signed) and `oauth_*`
/// parameters except `oauth_signature`.
pub fn signature_base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let mut normalized = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            normalized.push('&');
        }
        normalized.push_str(k);
        normalized.push('=');
        normalized.push_str(v);
    }
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(base_uri),
        percent_encode(&normalized)
    )
}

fn mac(base_string: &str, consumer_secret: &str, token_secret: &str) -> Hmac<Sha1> {
    let key = format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key size");
    mac.update(base_string.as_bytes());
    mac
}

/// `base64(HMAC-SHA1(enc(consumer_secret)&enc(token_secret), base_string))` (RFC 5849 §3.4.2).
pub fn sign(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(
        mac(base_string, consumer_secret, token_secret)
            .finalize()
            .into_bytes(),
    )
}

/// Whether `signature` (base64) is the HMAC-SHA1 of `base_string`; compared in constant time.
pub fn verify(
    base_string: &str,
    consumer_secret: &str,
    token_secret: &str,
    signature: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    mac(base_string, consumer_secret, token_secret)
        .verify_slice(&given)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// RFC 5849 §1.2, the photos request (http).
    #[test]
    fn rfc_photos_vector() {
        let params = p(&[
            ("file", "vacation.jpg"),
            ("size", "original"),
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131202"),
            ("oauth_nonce", "chapoH"),
        ]);
        let uri = base_string_uri("http", "Photos.Example.net:80", "/photos");
        let base = signature_base_string("get", &uri, &params);
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
        );
        assert_eq!(
            sign(&base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"),
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        );
        assert!(verify(
            &base,
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00",
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        ));
        // The same request over https signs differently.
        let https = signature_base_string(
            "GET",
            &base_string_uri("https", "photos.example.net", "/photos"),
            &params,
        );
        assert_eq!(
            sign(&https, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"),
            "91yh92rtXzicpezVYjTDNzieVps="
        );
        assert!(!verify(
            &https,
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00",
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        ));
    }

    /// RFC 5849 §3.4.1.1: duplicate names, empty values, `@`, pre-encoded values.
    #[test]
    fn rfc_normalization_vector() {
        let params = p(&[
            ("b5", "=%3D"),
            ("a3", "a"),
            ("c@", ""),
            ("a2", "r b"),
            ("c2", ""),
            ("a3", "2 q"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]);
        let base = signature_base_string(
            "POST",
            &base_string_uri("http", "example.com", "/request"),
            &params,
        );
        assert_eq!(
            base,
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    /// X's documented vector and the derived DELETE vector (reference §3.3–3.4).
    #[test]
    fn x_vectors() {
        let oauth = [
            ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
            ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1318622958"),
            (
                "oauth_token",
                "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            ),
            ("oauth_version", "1.0"),
        ];
        let cs = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
        let ts = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
        let mut params = p(&oauth);
        params.extend(p(&[
            (
                "status",
                "Hello Ladies + Gentlemen, a signed OAuth request!",
            ),
            ("include_entities", "true"),
        ]));
        let base = signature_base_string(
            "POST",
            &base_string_uri("https", "api.twitter.com", "/1.1/statuses/update.json"),
            &params,
        );
        assert_eq!(sign(&base, cs, ts), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
        let base = signature_base_string(
            "DELETE",
            &base_string_uri("https", "api.x.com", "/2/tweets/1445880548472328192"),
            &p(&oauth),
        );
        assert_eq!(sign(&base, cs, ts), "TthENO2qlGBISSakx+HkjNy7NpU=");
    }

    #[test]
    fn parses_headers() {
        let h = parse_header(
            r#"OAuth realm="Photos", oauth_consumer_key="ck",oauth_signature="a%2Bb%3D",oauth_token="t%20x""#,
        )
        .unwrap();
        assert_eq!(h.signature, "a+b=");
        assert_eq!(h.get("oauth_token"), Some("t x"));
        assert_eq!(h.get("realm"), None);
        assert_eq!(
            parse_header(r#"OAuth oauth_token="a",oauth_token="b",oauth_signature="s""#),
            Err(HeaderError::Duplicate)
        );
        assert_eq!(
            parse_header(r#"OAuth oauth_token="a""#),
            Err(HeaderError::NoSignature)
        );
        assert_eq!(parse_header("Bearer abc"), Err(HeaderError::Malformed));
        assert_eq!(
            parse_header(r#"OAuth oauth_token=a,oauth_signature="s""#),
            Err(HeaderError::Malformed)
        );
    }

    #[test]
    fn default_ports_dropped() {
        assert_eq!(
            base_string_uri("HTTP", "LocalHost:80", "/x"),
            "http://localhost/x"
        );
        assert_eq!(
            base_string_uri("http", "127.0.0.1:9102", "/2/tweets"),
            "http://127.0.0.1:9102/2/tweets"
        );
        assert_eq!(
            base_string_uri("https", "api.x.com:443", ""),
            "https://api.x.com/"
        );
    }
}
