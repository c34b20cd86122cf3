//! Static files embedded in the binary and served under content-hashed names
//! (`/assets/htmx-2.0.11.min.<hash>.js`), so they can be cached forever: a changed file is a new
//! name. Each is gzipped once, on first use, and served compressed to clients that accept it.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::LazyLock;

/// Where assets are served from.
pub const PREFIX: &str = "/assets/";

/// One embedded file.
pub struct Asset {
    /// The file's name in `assets/`, which templates refer to.
    pub file: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// `stem.<hash>.ext`: the name it is served under.
    hashed: String,
    gzipped: Vec<u8>,
}

macro_rules! embedded {
    ($($file:literal => $type:literal),* $(,)?) => {
        &[$(($file, $type, include_bytes!(concat!("../assets/", $file)) as &[u8])),*]
    };
}

const FILES: &[(&str, &str, &[u8])] = embedded![
    "vendor/htmx-2.0.11.min.js" => "text/javascript; charset=utf-8",
    "vendor/htmx-ext-sse-2.2.4.min.js" => "text/javascript; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "console.js" => "text/javascript; charset=utf-8",
];

static ASSETS: LazyLock<Vec<Asset>> =
    LazyLock::new(|| FILES.iter().map(|&(file, content_type, bytes)| Asset::new(file, content_type, bytes)).collect());

impl Asset {
    fn new(file: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
        let hash = hex::encode(&Sha256::digest(bytes)[..6]);
        let base = file.rsplit('/').next().unwrap_or(file);
        let hashed = match base.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
            None => format!("{base}.{hash}"),
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(bytes).expect("gzip into memory");
        Asset { file, content_type, bytes, hashed, gzipped: gz.finish().expect("gzip into memory") }
    }
}

/// The URL of an embedded file, by its name in `assets/`. Panics on a name that is not embedded:
/// the templates name a fixed set, and every page is rendered by the tests.
pub fn url(file: &str) -> String {
    let asset = ASSETS.iter().find(|a| a.file == file).unwrap_or_else(|| panic!("no embedded asset `{file}`"));
    format!("{PREFIX}{}", asset.hashed)
}

/// `GET /assets/{name}`: only the current hashed names exist.
pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.hashed == name) else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], "no such asset").into_response();
    };
    let gzip = accepts_gzip(&headers);
    let mut response = match gzip {
        true => ([(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], asset.gzipped.clone()).into_response(),
        false => asset.bytes.into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// Whether `Accept-Encoding` admits gzip (by name or `*`, with a q-value other than 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0)));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_stem_and_extension_and_change_with_the_content() {
        let a = Asset::new("vendor/x-1.0.min.js", "text/javascript", b"one");
        let b = Asset::new("vendor/x-1.0.min.js", "text/javascript", b"two");
        assert!(a.hashed.starts_with("x-1.0.min.") && a.hashed.ends_with(".js"), "{}", a.hashed);
        assert_ne!(a.hashed, b.hashed);
    }

    #[test]
    fn gzip_is_served_only_when_accepted() {
        let with = |v: &'static str| HeaderMap::from_iter([(header::ACCEPT_ENCODING, HeaderValue::from_static(v))]);
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&with("gzip;q=0, br")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_embedded_file_has_a_url() {
        for (file, _, _) in FILES {
            assert!(url(file).starts_with(PREFIX));
        }
    }
}
