//! The browser client is served at `/` by the real server: embedded files with the right
//! content types and caching headers, ETag revalidation, 404 for anything else, and `--web-dir`
//! serving a directory instead.

mod common;

use common::{TestServer, WAIT};
use std::net::SocketAddr;
use tickwire_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(buf[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

#[tokio::test]
async fn serves_the_embedded_client_with_types_and_caching() {
    let server = TestServer::start(Config::ephemeral()).await;
    let index = get(server.addr, "/", "").await;
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert!(String::from_utf8_lossy(&index.body).contains("<canvas id=\"view\">"));
    assert_eq!(
        get(server.addr, "/index.html", "").await.body,
        index.body,
        "/ is index.html"
    );

    let js = get(server.addr, "/src/sdk/codec.js", "").await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        js.body,
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../client-web/src/sdk/codec.js"
        ))
        .unwrap()
    );
    let css = get(server.addr, "/style.css", "").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        get(server.addr, "/favicon.svg", "")
            .await
            .header("content-type"),
        Some("image/svg+xml")
    );

    // Revalidation: the ETag answers 304 with no body.
    let etag = js.header("etag").expect("an ETag").to_owned();
    let again = get(
        server.addr,
        "/src/sdk/codec.js",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let stale = get(server.addr, "/src/sdk/codec.js", "If-None-Match: \"0\"\r\n").await;
    assert_eq!(stale.status, 200);

    // Nothing else: unknown files, tests, packages, escapes.
    for path in [
        "/nope.js",
        "/test/codec.test.js",
        "/package.json",
        "/../Cargo.toml",
        "/src/../index.html",
        "/.gitignore",
    ] {
        assert_eq!(get(server.addr, path, "").await.status, 404, "{path}");
    }
    // The other routes are unchanged.
    assert_eq!(get(server.addr, "/healthz", "").await.status, 200);
    assert_eq!(get(server.addr, "/ws", "").await.status, 426);
    server.stop().await;
}

#[tokio::test]
async fn web_dir_serves_files_from_disk() {
    let dir = std::env::temp_dir().join(format!("tickwire-web-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("index.html"), "<p>dev copy</p>").unwrap();
    std::fs::write(dir.join("src/extra.js"), "export const x = 1;").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a client file type").unwrap();
    let server = TestServer::start(Config {
        web_dir: Some(dir.clone()),
        ..Config::ephemeral()
    })
    .await;
    let index = get(server.addr, "/", "").await;
    assert_eq!(index.status, 200);
    assert_eq!(index.body, b"<p>dev copy</p>");
    let js = get(server.addr, "/src/extra.js", "").await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Edits show up without a restart.
    std::fs::write(dir.join("src/extra.js"), "export const x = 2;").unwrap();
    let edited = get(server.addr, "/src/extra.js", "").await;
    assert_eq!(edited.body, b"export const x = 2;");
    assert_ne!(edited.header("etag"), js.header("etag"));
    assert_eq!(get(server.addr, "/notes.txt", "").await.status, 404);
    assert_eq!(get(server.addr, "/src/sdk/codec.js", "").await.status, 404);
    server.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
