//! Images attached to a post, as adapters see them: each network declares what it accepts
//! ([`MediaRules`]) and receives [`Media`] the gateway has already checked (and, where the
//! network wants bytes, downloaded).

/// What a network accepts as images on one post. Declared by the adapter so that the api
/// layer checks a request against it without knowing which network it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaRules {
    /// Most images on one post; 0: this adapter publishes no images.
    pub max_images: usize,
    /// Largest image, in bytes, that the network accepts.
    pub max_bytes: usize,
    /// Whether the network fetches the image URL itself (Threads' `image_url`): the gateway
    /// then checks the URL but does not download it.
    pub fetches_url: bool,
}

impl MediaRules {
    /// No images at all.
    pub const NONE: MediaRules = MediaRules {
        max_images: 0,
        max_bytes: 0,
        fetches_url: false,
    };
}

/// One image of a post, checked by the gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    /// The URL the client gave (https, public host unless the settings allow otherwise).
    pub url: String,
    /// Its MIME type (`image/png`, ...), from the download; guessed from the URL when the
    /// image was not downloaded.
    pub content_type: String,
    /// The image, when the gateway downloaded it (networks that do not fetch URLs).
    pub bytes: Option<Vec<u8>>,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.as_ref().map(Vec::len))
            .finish()
    }
}

/// A `multipart/form-data` body with text `fields` and one file part named `file_field`:
/// all X's media upload needs, without a crate for it. Returns the body and its
/// `Content-Type` header value.
pub(crate) fn multipart(
    fields: &[(&str, &str)],
    file_field: &str,
    content_type: &str,
    bytes: &[u8],
) -> (Vec<u8>, String) {
    // Random, and long enough that no image contains it by chance.
    let boundary = format!("postgate-{:032x}", rand::random::<u128>());
    let mut body = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"media\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_frames_fields_and_the_file() {
        let (body, ct) = multipart(
            &[("media_category", "tweet_image")],
            "media",
            "image/png",
            b"PNG",
        );
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"media_category\"\r\n\r\ntweet_image\r\n"));
        assert!(text.contains("Content-Type: image/png\r\n\r\nPNG\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
