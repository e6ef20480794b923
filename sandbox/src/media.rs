//! What the simulated networks need to accept images: a multipart reader (X's media upload)
//! and an image check by magic bytes (X and Bluesky refuse what is not an image).

/// The first file part named `name` of a `multipart/form-data` body: its `Content-Type`
/// (default `application/octet-stream`) and bytes.
pub(crate) fn multipart_file(
    content_type: &str,
    body: &[u8],
    name: &str,
) -> Option<(String, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut rest = body;
    loop {
        let start = find(rest, delimiter.as_bytes())? + delimiter.len();
        rest = &rest[start..];
        if rest.starts_with(b"--") {
            return None;
        }
        let rest_after_crlf = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest_after_crlf, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest_after_crlf[..header_end]).ok()?;
        let content = &rest_after_crlf[header_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
        let is_named = headers.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("content-disposition:")
                && l.contains(&format!("name=\"{name}\""))
        });
        if is_named {
            let part_type = headers
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case("content-type")
                        .then(|| v.trim().to_ascii_lowercase())
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            return Some((part_type, content[..end].to_vec()));
        }
        rest = &content[end..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `bytes` start like a JPEG, PNG, GIF or WebP image.
pub(crate) fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xff, 0xd8, 0xff])
        || bytes.starts_with(b"GIF87a")
        || bytes.starts_with(b"GIF89a")
        || (bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_file_part() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"media_category\"\r\n\r\ntweet_image\r\n--b1\r\nContent-Disposition: form-data; name=\"media\"; filename=\"m\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\nDATA\r\n--b1--\r\n";
        let (ct, bytes) =
            multipart_file("multipart/form-data; boundary=b1", body, "media").unwrap();
        assert_eq!(ct, "image/png");
        assert_eq!(bytes, b"\x89PNG\r\n\x1a\nDATA");
        assert!(is_image(&bytes));
        assert!(multipart_file("multipart/form-data; boundary=b1", body, "other").is_none());
        assert!(!is_image(b"<html>"));
    }
}
