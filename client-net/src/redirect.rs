//! Where a client goes when a node of a cluster sends it elsewhere (docs/SCALING.md): the URL
//! for a [`Redirect`] (its node's URL with `?room=ROOM&seat=SEAT`, keeping every other query
//! parameter of the URL the client used, `token=` or `guest=` say, and dropping its old
//! `room` and `seat`), the URL after a 4008 (`SeatExpired`: the same without `seat`), and the
//! bound on redirects in a row. Pure string work, shared by every Rust client (the
//! [`GameClient`](crate::GameClient), the bots, the Bevy client).

use tickwire_shared::sync::Redirect;

/// At most this many redirects (and seat retries) in a row without a `Welcome`; past it a
/// join is a failed attempt (a client with a retry policy backs off).
pub const MAX_REDIRECTS: usize = 4;

/// `url` split into the part before `?` and its query parameters as written (`k=v`, not
/// decoded), empty ones dropped.
fn split(url: &str) -> (&str, Vec<&str>) {
    match url.split_once('?') {
        Some((base, query)) => (base, query.split('&').filter(|p| !p.is_empty()).collect()),
        None => (url, Vec::new()),
    }
}

/// The key of a raw `k=v` query parameter.
fn key(param: &str) -> &str {
    param.split_once('=').map_or(param, |(k, _)| k)
}

/// `s` percent-encoded for a query value (everything but RFC 3986's unreserved characters).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base` (a URL with or without a query) with the query parameters of `keep_from` that are not
/// `room` or `seat` (nor already in `base`), then `room` and, when non-empty, `seat`.
pub fn with_room_seat(base: &str, keep_from: &str, room: &str, seat: &str) -> String {
    let (path, own) = split(base);
    let mut params: Vec<String> = own
        .iter()
        .filter(|p| !matches!(key(p), "room" | "seat"))
        .map(|p| p.to_string())
        .collect();
    for p in split(keep_from).1 {
        let k = key(p);
        if matches!(k, "room" | "seat") || params.iter().any(|q| key(q) == k) {
            continue;
        }
        params.push(p.to_string());
    }
    if !room.is_empty() {
        params.push(format!("room={}", encode_component(room)));
    }
    if !seat.is_empty() {
        params.push(format!("seat={}", encode_component(seat)));
    }
    if params.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

/// Where to reconnect after `redirect`, coming from `from` (the URL that was redirected).
pub fn redirected_url(from: &str, redirect: &Redirect) -> String {
    with_room_seat(&redirect.url, from, &redirect.room, &redirect.seat)
}

/// `url` without its `seat` parameter (after a 4008, or once a seat has been taken).
pub fn without_seat(url: &str) -> String {
    let (path, params) = split(url);
    let kept: Vec<&str> = params.into_iter().filter(|p| key(p) != "seat").collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// `url` with query parameter `k` set to `v` (replacing any it had).
pub fn with_param(url: &str, k: &str, v: &str) -> String {
    let (path, params) = split(url);
    let mut kept: Vec<String> = params
        .into_iter()
        .filter(|p| key(p) != k)
        .map(str::to_string)
        .collect();
    kept.push(format!("{k}={}", encode_component(v)));
    format!("{path}?{}", kept.join("&"))
}

/// Where a session's mirror connects, from the URL its main connection was welcomed on:
/// the same, without `seat` (it was taken) and with `mirror=attach`.
pub fn mirror_url(url: &str) -> String {
    with_param(&without_seat(url), "mirror", "attach")
}

/// Whether `url` carries a `seat` parameter.
pub fn has_seat(url: &str) -> bool {
    split(url).1.iter().any(|p| key(p) == "seat")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(url: &str, room: &str, seat: &str) -> Redirect {
        Redirect {
            url: url.into(),
            room: room.into(),
            seat: seat.into(),
        }
    }

    #[test]
    fn a_redirect_keeps_other_parameters_and_replaces_room_and_seat() {
        let r = redirect("ws://b:7001/ws", "R7", "s3at");
        assert_eq!(
            redirected_url("ws://a:7000/ws?token=abc&room=old&seat=x&guest=g1", &r),
            "ws://b:7001/ws?token=abc&guest=g1&room=R7&seat=s3at"
        );
        assert_eq!(
            redirected_url("ws://a:7000/ws", &r),
            "ws://b:7001/ws?room=R7&seat=s3at"
        );
        // A resume needs no seat.
        let resume = redirect("wss://b.example.com:443/ws", "R7", "");
        assert_eq!(
            redirected_url("wss://a.example.com:443/ws?room=R7&token=t", &resume),
            "wss://b.example.com:443/ws?token=t&room=R7"
        );
        // Characters outside the unreserved set are escaped.
        assert_eq!(
            redirected_url("ws://a:1/ws", &redirect("ws://b:2/ws", "r", "a+b/c=")),
            "ws://b:2/ws?room=r&seat=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn the_node_url_own_parameters_win() {
        let r = redirect("ws://b:7001/ws?token=fresh&room=no", "R", "S");
        assert_eq!(
            redirected_url("ws://a:7000/ws?token=old&guest=g", &r),
            "ws://b:7001/ws?token=fresh&guest=g&room=R&seat=S"
        );
    }

    #[test]
    fn seat_expired_drops_only_the_seat() {
        assert_eq!(
            without_seat("ws://b:1/ws?token=t&room=R&seat=S"),
            "ws://b:1/ws?token=t&room=R"
        );
        assert_eq!(without_seat("ws://b:1/ws?seat=S"), "ws://b:1/ws");
        assert!(has_seat("ws://b:1/ws?room=R&seat=S"));
        assert!(!has_seat("ws://b:1/ws?room=R&seats=S"));
    }

    #[test]
    fn a_mirror_connects_like_its_session_without_the_seat() {
        assert_eq!(
            mirror_url("ws://b:1/ws?token=t&mirror=1&room=R&seat=S"),
            "ws://b:1/ws?token=t&room=R&mirror=attach"
        );
        assert_eq!(mirror_url("ws://b:1/ws"), "ws://b:1/ws?mirror=attach");
        assert_eq!(
            with_param("ws://b:1/ws?a=1", "mirror", "1"),
            "ws://b:1/ws?a=1&mirror=1"
        );
    }
}
