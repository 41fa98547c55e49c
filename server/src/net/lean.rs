//! The read side of a WebSocket that holds no frame buffer while its peer is quiet.
//!
//! fastwebsockets gives every reader an 8 KiB buffer up front, and an idle player's connection
//! would hold it for as long as it lives: the largest part of what such a connection cost.
//! [`LeanRead`] waits for the peer's next bytes in a 64-byte array of its own, makes a
//! fastwebsockets reader once they come, and lets it go again as soon as the frames it returned
//! have used every byte it was given (its buffer is empty then, so nothing is lost). A typical
//! input frame fits the array whole, so the reader parses it without another read; an idle
//! connection costs the array, not the buffer.

use fastwebsockets::{Frame, Role, WebSocket, WebSocketError};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read while no frame reader exists. An input message and its header fit.
const HEAD: usize = 64;

/// What a frame reader reads from: the bytes waited for first, then the stream. It counts what
/// it hands over, so that its owner can tell when the reader has used all of it.
pub(super) struct Feed<R> {
    inner: R,
    head: [u8; HEAD],
    at: u8,
    len: u8,
    /// Bytes handed to the frame reader, shared with [`LeanRead`] (the reader owns the feed).
    given: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Feed<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        if this.at < this.len {
            let n = usize::from(this.len - this.at).min(buf.remaining());
            let at = usize::from(this.at);
            buf.put_slice(&this.head[at..at + n]);
            this.at += n as u8;
        } else {
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        }
        let n = buf.filled().len() - before;
        this.given.fetch_add(n as u64, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

/// fastwebsockets' reader needs a writable stream; it never writes here (its automatic pongs
/// and close replies are off: the connection's writer sends those).
impl<R: Unpin> AsyncWrite for Feed<R> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncRead + Unpin> Feed<R> {
    /// Waits for the peer's next bytes into the array; `false` when the stream ended. Cancel-safe:
    /// bytes read are kept in the same poll that reads them.
    async fn wait(&mut self) -> io::Result<bool> {
        std::future::poll_fn(|cx| {
            let mut buf = ReadBuf::new(&mut self.head);
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            self.at = 0;
            self.len = n as u8;
            Poll::Ready(Ok(n > 0))
        })
        .await
    }
}

/// A WebSocket's read side: a fastwebsockets reader while frames come, only the [`Feed`] while
/// the peer is quiet.
pub(super) struct LeanRead<R> {
    quiet: Option<Feed<R>>,
    /// Boxed: it is there only while frames come, with its 8 KiB buffer.
    frames: Option<Box<WebSocket<Feed<R>>>>,
    given: Arc<AtomicU64>,
    /// Bytes of the frames returned (headers and payloads).
    taken: u64,
    max_message_size: usize,
}

impl<R: AsyncRead + Unpin> LeanRead<R> {
    /// Reads `inner`, a stream whose handshake is done and of which nothing is buffered
    /// elsewhere; fastwebsockets refuses frames of `max_message_size` bytes or more.
    pub(super) fn new(inner: R, max_message_size: usize) -> LeanRead<R> {
        let given = Arc::new(AtomicU64::new(0));
        LeanRead {
            quiet: Some(Feed {
                inner,
                head: [0; HEAD],
                at: 0,
                len: 0,
                given: given.clone(),
            }),
            frames: None,
            given,
            taken: 0,
            max_message_size,
        }
    }

    /// Reads the next frame, unmasked; the caller checks that it was masked with [`masked`].
    /// Cancel-safe while the peer is quiet (between frames).
    pub(super) async fn read_frame(&mut self) -> Result<Frame<'static>, WebSocketError> {
        if self.frames.is_none() {
            let feed = self
                .quiet
                .as_mut()
                .expect("a lean reader is quiet or reading");
            // A reader takes all of the array at its first read (its buffer is empty then), so
            // the array is used up whenever the reader is let go; should it not be, its bytes
            // go to the next reader first.
            if feed.at == feed.len && !feed.wait().await? {
                return Err(WebSocketError::UnexpectedEOF);
            }
            let feed = self.quiet.take().expect("checked above");
            let mut ws = WebSocket::after_handshake(feed, Role::Server);
            ws.set_auto_close(false);
            ws.set_auto_pong(false);
            ws.set_max_message_size(self.max_message_size);
            self.frames = Some(Box::new(ws));
        }
        let ws = self.frames.as_mut().expect("made above");
        // Boxed, for the same reason: fastwebsockets' parsing state is there only while a
        // frame is read, and inline it would be part of every connection's task.
        let mut frame = Box::pin(ws.read_frame()).await?;
        let mut head = [0u8; 16];
        // The header fastwebsockets parsed was at least as long as the shortest that encodes
        // this frame (a peer may spend more bytes on a length): `taken` never passes `given`,
        // and when they are equal the reader holds nothing.
        self.taken += (frame.fmt_head(&mut head) + frame.payload.len()) as u64;
        if self.taken == self.given.load(Ordering::Relaxed) {
            let ws = self.frames.take().expect("reading");
            self.quiet = Some(ws.into_inner());
        }
        Ok(frame)
    }

    /// Whether a fastwebsockets reader (and its buffer) is held now.
    #[cfg(test)]
    fn holds_buffer(&self) -> bool {
        self.frames.is_some()
    }
}

/// Whether a frame came with a masking key. fastwebsockets keeps the key but does not expose
/// it; the header it would write for the frame carries the mask bit.
pub(super) fn masked(frame: &mut Frame<'_>) -> bool {
    let mut head = [0u8; 16];
    frame.fmt_head(&mut head);
    head[1] & 0x80 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A frame's payload as owned bytes.
    fn payload(frame: &Frame<'_>) -> Bytes {
        Bytes::copy_from_slice(&frame.payload)
    }
    use fastwebsockets::OpCode;
    use tokio::io::AsyncWriteExt;

    /// A masked client frame.
    fn client_frame(opcode: u8, payload: &[u8], long_length: bool) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut f = vec![0x80 | opcode];
        if payload.len() < 126 && !long_length {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[tokio::test]
    async fn frames_split_and_joined_anywhere_read_back_exactly_and_the_buffer_goes_between_them() {
        let (mut peer, ours) = tokio::io::duplex(1 << 16);
        let mut lean = LeanRead::new(ours, 1 << 20);
        let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let messages: Vec<Vec<u8>> = vec![
            b"hi".to_vec(),
            big.clone(),
            vec![],
            b"0123456789".repeat(10),
            b"x".to_vec(),
        ];
        let mut wire = Vec::new();
        for m in &messages {
            wire.extend(client_frame(OpCode::Binary as u8, m, false));
        }
        // Written in uneven pieces: a header split, two frames in one write, and so on.
        let cuts = [1, 3, 70, 2900, 3, 150, 2, 9];
        let writer = tokio::spawn(async move {
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= wire.len() {
                    break;
                }
                let end = (at + c).min(wire.len());
                peer.write_all(&wire[at..end]).await.unwrap();
                peer.flush().await.unwrap();
                at = end;
                tokio::task::yield_now().await;
            }
            peer
        });
        for m in &messages {
            let mut f = lean.read_frame().await.unwrap();
            assert!(masked(&mut f));
            assert_eq!(f.opcode, OpCode::Binary);
            assert_eq!(payload(&f), Bytes::copy_from_slice(m));
        }
        let peer = writer.await.unwrap();
        // Every byte the peer wrote was used: the reader let its buffer go.
        assert!(!lean.holds_buffer());
        drop(peer);
        assert!(matches!(
            lean.read_frame().await,
            Err(WebSocketError::UnexpectedEOF)
        ));
    }

    #[tokio::test]
    async fn a_quiet_peer_costs_no_frame_buffer_and_a_long_length_only_keeps_it() {
        let (mut peer, ours) = tokio::io::duplex(1 << 16);
        let mut lean = LeanRead::new(ours, 1 << 20);
        peer.write_all(&client_frame(OpCode::Ping as u8, b"p", false))
            .await
            .unwrap();
        let f = lean.read_frame().await.unwrap();
        assert_eq!(f.opcode, OpCode::Ping);
        assert!(!lean.holds_buffer(), "one whole frame read: nothing held");
        // A length in more bytes than it needs still reads right; the reader is kept, since
        // the shortest header is what is counted.
        peer.write_all(&client_frame(OpCode::Binary as u8, b"abc", true))
            .await
            .unwrap();
        let f = lean.read_frame().await.unwrap();
        assert_eq!(payload(&f), Bytes::from_static(b"abc"));
        assert!(lean.holds_buffer());
        peer.write_all(&client_frame(OpCode::Binary as u8, b"def", false))
            .await
            .unwrap();
        let f = lean.read_frame().await.unwrap();
        assert_eq!(payload(&f), Bytes::from_static(b"def"));
    }

    #[tokio::test]
    async fn waiting_is_cancel_safe() {
        let (mut peer, ours) = tokio::io::duplex(1 << 16);
        let mut lean = LeanRead::new(ours, 1 << 20);
        for _ in 0..3 {
            let r =
                tokio::time::timeout(std::time::Duration::from_millis(5), lean.read_frame()).await;
            assert!(r.is_err(), "nothing was sent");
        }
        peer.write_all(&client_frame(OpCode::Binary as u8, b"late", false))
            .await
            .unwrap();
        let f = lean.read_frame().await.unwrap();
        assert_eq!(payload(&f), Bytes::from_static(b"late"));
    }
}
