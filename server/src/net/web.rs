//! The browser client (`client-web/`), served at `/`: the page of the game the server plays.
//! The arena's page is `client-web/index.html`; another bundled game's is
//! `client-web/<game>/index.html` (the cards page is `cards/index.html`, the survival game's
//! `survival/index.html`), and a game without a page of its own gets the arena's.
//!
//! By default the files are embedded in the binary at build time (`include_bytes!` of a fixed
//! list, so the release binary is self-contained and serves exactly these files, nothing else);
//! `--web-dir PATH` serves them from a directory instead, for editing the client without
//! rebuilding. This module owns the file list, content types and caching headers: files are not
//! content-hashed, so every answer says `Cache-Control: no-cache` and carries a strong `ETag`,
//! and a matching `If-None-Match` gets `304 Not Modified`. It never serves a path outside its
//! list (embedded) or outside the directory (dev), and never touches the WebSocket routes.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderMap, IF_NONE_MATCH};
use hyper::{Response, StatusCode};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../../../client-web/", $path)))),*]
    };
}

/// Every file of the browser client, relative to `client-web/`. A test checks that this list
/// names every file the client consists of, so a new module cannot be forgotten.
pub(crate) const EMBEDDED: &[(&str, &[u8])] = embed!(
    "index.html",
    "style.css",
    "favicon.svg",
    "src/main.js",
    "src/arena.js",
    "src/rules.js",
    "src/controls.js",
    "src/render.js",
    "src/ui.js",
    "src/sdk/index.js",
    "src/sdk/client.js",
    "src/sdk/connection.js",
    "src/sdk/close.js",
    "src/sdk/backoff.js",
    "src/sdk/clock.js",
    "src/sdk/inputs.js",
    "src/sdk/interpolate.js",
    "src/sdk/predict.js",
    "src/sdk/replica.js",
    "src/sdk/codec.js",
    "src/sdk/schema.js",
    "src/sdk/wire.js",
    "src/sdk/bits.js",
    "src/sdk/f32.js",
    "src/sdk/acked.js",
    "src/sdk/mirror.js",
    "cards/index.html",
    "cards/cards.js",
    "cards/cards.css",
    "survival/index.html",
    "survival/survival.js",
    "survival/rules.js",
    "survival/survival.css",
    "admin/index.html",
    "admin/admin.js",
    "admin/admin.css",
);

/// The directories of `client-web/` that hold served files, besides its top level: the
/// arena's and the SDK's modules, each other game's page, and the operator's page (served
/// through [`super::admin`], which answers every `/admin` path).
#[cfg(test)]
const PAGE_DIRS: &[&str] = &["src", "cards", "survival", "admin"];

struct Asset {
    bytes: Bytes,
    content_type: &'static str,
    etag: String,
}

fn embedded() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        EMBEDDED
            .iter()
            .map(|(path, bytes)| (*path, asset(path, Bytes::from_static(bytes))))
            .collect()
    })
}

fn asset(path: &str, bytes: Bytes) -> Asset {
    Asset {
        etag: format!("\"{:016x}\"", fnv1a64(&bytes)),
        content_type: content_type(path).unwrap_or("application/octet-stream"),
        bytes,
    }
}

/// The content type of a client file, by extension; `None` for kinds the client has none of.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A request path as a relative file path (`/` is `index.html`), or `None` when it is not a
/// plain path of safe segments (no `..`, no hidden files, no backslashes).
fn relative_path(path: &str) -> Option<&str> {
    let rel = path.strip_prefix('/')?;
    if rel.is_empty() {
        return Some("index.html");
    }
    let safe = rel.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    safe.then_some(rel)
}

/// The file `/` serves to the players of `game`: `<game>/index.html` when the client has that
/// page, else the arena's `index.html`.
fn root_page(game: &str, web_dir: Option<&Path>) -> Option<String> {
    let page = format!("{game}/index.html");
    let has = match web_dir {
        None => embedded().contains_key(page.as_str()),
        Some(dir) => dir.join(&page).is_file(),
    };
    (game != "arena" && relative_path(&format!("/{page}")).is_some() && has).then_some(page)
}

/// The answer for a client file, or `None` when there is no such file (the caller answers 404).
/// `game` is the name of the game the server plays (its schema's), which picks the page `/`
/// serves. That page refers to its files by absolute paths, so it works at `/` and at its own
/// path alike.
pub(super) fn serve(
    path: &str,
    headers: &HeaderMap,
    web_dir: Option<&Path>,
    game: &str,
) -> Option<Response<Full<Bytes>>> {
    let root = if path == "/" {
        root_page(game, web_dir)
    } else {
        None
    };
    let rel = match &root {
        Some(page) => page.as_str(),
        None => relative_path(path)?,
    };
    let from_disk;
    let asset = match web_dir {
        None => embedded().get(rel)?,
        Some(dir) => {
            content_type(rel)?;
            // Development only: a small blocking read keeps this path simple.
            let bytes = std::fs::read(dir.join(rel)).ok()?;
            from_disk = asset(rel, Bytes::from(bytes));
            &from_disk
        }
    };
    let not_modified = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag));
    let builder = Response::builder()
        .header(CACHE_CONTROL, "no-cache")
        .header(ETAG, &asset.etag)
        .header("x-content-type-options", "nosniff");
    let response = if not_modified {
        builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Full::new(Bytes::new()))
    } else {
        builder
            .header(CONTENT_TYPE, asset.content_type)
            .body(Full::new(asset.bytes.clone()))
    };
    Some(response.expect("static response parts are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files that make up the client: the page's own files at the top of `client-web/`
    /// (not the npm manifest) and everything under `src/`. Tests, test output and packages
    /// live elsewhere in the directory and are never served.
    fn client_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                let top = rel.split('/').next().unwrap_or_default();
                if PAGE_DIRS.contains(&top) {
                    client_files(&entry.path(), &format!("{rel}/"), out);
                }
            } else if (!prefix.is_empty() || !name.starts_with("package"))
                && !name.starts_with('.')
                && content_type(&name).is_some()
            {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_client_file_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-web");
        let mut files = Vec::new();
        client_files(&root, "", &mut files);
        files.sort();
        let mut listed: Vec<String> = EMBEDDED.iter().map(|(p, _)| p.to_string()).collect();
        listed.sort();
        assert_eq!(
            files, listed,
            "server/src/net/web.rs EMBEDDED must list every client file"
        );
        for (path, _) in EMBEDDED {
            assert!(content_type(path).is_some(), "no content type for {path}");
        }
    }

    fn body(r: Response<Full<Bytes>>) -> Vec<u8> {
        use http_body_util::BodyExt;
        let body = r.into_body().collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(body).unwrap().to_bytes().to_vec()
    }

    fn embedded_file(path: &str) -> &'static [u8] {
        EMBEDDED.iter().find(|(p, _)| *p == path).unwrap().1
    }

    #[test]
    fn the_root_serves_the_page_of_the_game_the_server_plays() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-web");
        let none = HeaderMap::new();
        for dir in [None, Some(root.as_path())] {
            let page = |game| body(serve("/", &none, dir, game).unwrap());
            assert_eq!(page("arena"), embedded_file("index.html"), "{dir:?}");
            assert_eq!(page("cards"), embedded_file("cards/index.html"), "{dir:?}");
            let survival = embedded_file("survival/index.html");
            assert_eq!(page("survival"), survival, "{dir:?}");
            // A game with no page of its own gets the arena's, as before.
            assert_eq!(page("dots"), embedded_file("index.html"), "{dir:?}");
            assert_eq!(page("../x"), embedded_file("index.html"), "{dir:?}");
            // The cards page is also at its own path, and the arena's files stay where they
            // were whatever the game.
            let at = |path| body(serve(path, &none, dir, "cards").unwrap());
            assert_eq!(at("/cards/index.html"), embedded_file("cards/index.html"));
            assert_eq!(at("/index.html"), embedded_file("index.html"));
            assert_eq!(at("/src/sdk/index.js"), embedded_file("src/sdk/index.js"));
        }
        let html = String::from_utf8_lossy(embedded_file("cards/index.html")).into_owned();
        for file in ["/cards/cards.js", "/cards/cards.css"] {
            assert!(
                html.contains(&format!("\"{file}\"")),
                "absolute path {file}"
            );
        }
        let html = String::from_utf8_lossy(embedded_file("survival/index.html")).into_owned();
        for file in ["/survival/survival.js", "/survival/survival.css"] {
            assert!(
                html.contains(&format!("\"{file}\"")),
                "absolute path {file}"
            );
        }
    }

    #[test]
    fn only_plain_paths_map_to_files() {
        assert_eq!(relative_path("/"), Some("index.html"));
        assert_eq!(relative_path("/src/main.js"), Some("src/main.js"));
        for bad in [
            "/../Cargo.toml",
            "/src/../x",
            "/.git/config",
            "//etc",
            "/a\\b",
            "/src/",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }
}
