//! The provider's TCP transport, under rsipstack's transactions. rsipstack's own TCP listener has
//! one idle timer that every byte restarts (a slowloris holds a connection for ever), no limit on
//! connections, and the same UTF-8-only header parsing as its UDP. Here (docs/sip.md "On the
//! wire"):
//!
//! - at most `max` connections in all and `per_peer` from one IP; one over is closed at once;
//! - two deadlines: a message must be complete within `incomplete` of its first byte — and a
//!   connection within `incomplete` of opening, so a silent connection counts as an incomplete
//!   message (RFC 3261 suggests 64 × T1 = 32 s) — and a connection with nothing in progress is
//!   closed after `idle` (long, for a PBX's persistent trunk connection; CRLF keep-alives,
//!   RFC 5626 §3.5.1, count as traffic — no CRLF pong is sent back);
//! - messages framed by Content-Length (a header section of at most 64 KiB, a body of at most
//!   1 MiB); a message with none is `400` (RFC 3261 §18.3 requires it on a stream);
//! - each message checked and repaired as on UDP ([`super::wire`]) and screened
//!   ([`super::guard`]) before the endpoint sees it.
//!
//! rsipstack sees each connection as a channel connection: what it sends on it comes back to us to
//! write.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsipstack::sip::transport::Transport;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::server::Shared;
use super::wire::{self, Gate};

/// The transport's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Between messages.
    pub idle: Duration,
    /// From a message's first byte (or the connection's opening) to its last.
    pub incomplete: Duration,
    /// Connections in all.
    pub max: usize,
    /// Connections from one IP.
    pub per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle: Duration::from_secs(900),
            incomplete: Duration::from_secs(32),
            max: 1024,
            per_peer: 64,
        }
    }
}

const MAX_HEAD: usize = 64 * 1024;
/// The longest one message may take to write (a peer that stops reading is let go).
const WRITE: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 1024 * 1024;

/// Connections open, per IP.
#[derive(Default)]
struct Open {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// Accept on `listener` until `cancel`.
pub async fn serve(
    listener: TcpListener,
    endpoint: EndpointInnerRef,
    shared: Arc<Shared>,
    limits: Limits,
    cancel: CancellationToken,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        {
            let mut o = open.lock().unwrap();
            let from_peer = o.by_ip.get(&peer.ip()).copied().unwrap_or(0);
            if o.total >= limits.max || from_peer >= limits.per_peer {
                drop(o);
                shared.dropped(
                    &format!("TCP {peer}"),
                    &format!(
                        "a connection over the limit ({} in all, {} from one IP)",
                        limits.max, limits.per_peer
                    ),
                );
                drop(stream);
                continue;
            }
            o.total += 1;
            *o.by_ip.entry(peer.ip()).or_insert(0) += 1;
        }
        let (open, ep, sh, c) = (
            open.clone(),
            endpoint.clone(),
            shared.clone(),
            cancel.clone(),
        );
        tokio::spawn(async move {
            let local = stream.local_addr().ok();
            connection(stream, peer, local, ep, &sh, limits, c).await;
            let mut o = open.lock().unwrap();
            o.total -= 1;
            if let Some(n) = o.by_ip.get_mut(&peer.ip()) {
                *n -= 1;
                if *n == 0 {
                    o.by_ip.remove(&peer.ip());
                }
            }
        });
    }
}

/// Why a connection was closed.
fn closed(shared: &Shared, peer: SocketAddr, why: &str) {
    shared.dropped(&format!("TCP {peer}"), &format!("connection closed: {why}"));
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    _local: Option<SocketAddr>,
    endpoint: EndpointInnerRef,
    shared: &Shared,
    limits: Limits,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let from = SipAddr {
        r#type: Some(Transport::Tcp),
        addr: peer.into(),
    };
    // What the stack sends on this connection comes out of `out_rx`, for us to write.
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<TransportEvent>();
    let (_in_tx, in_rx) = tokio::sync::mpsc::unbounded_channel::<TransportEvent>();
    let Ok(chan) =
        // Its own token: the transport layer cancels it when the connection is removed.
        ChannelConnection::create_connection(in_rx, out_tx, from.clone(), Some(cancel.child_token()))
            .await
    else {
        return;
    };
    let conn = SipConnection::Channel(chan);
    endpoint.transport_layer.add_connection(conn.clone());
    let done = CancellationToken::new();
    let writer = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                // What is queued goes out before the connection closes (a last 400).
                let ev = tokio::select! {
                    biased;
                    ev = out_rx.recv() => match ev {
                        Some(ev) => ev,
                        None => break,
                    },
                    _ = done.cancelled() => break,
                };
                if let TransportEvent::Incoming(msg, _, _) = ev {
                    // A peer that stops reading does not hold the connection's task for ever.
                    let w = tokio::time::timeout(WRITE, wr.write_all(&msg.to_bytes())).await;
                    if !matches!(w, Ok(Ok(()))) {
                        break;
                    }
                }
            }
            let _ = wr.shutdown().await;
        })
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    // The deadline of the message in progress (the first one: from the opening).
    let mut deadline = Some(tokio::time::Instant::now() + limits.incomplete);
    let mut idle_since = tokio::time::Instant::now();
    let why = loop {
        // Whole messages first.
        match next_message(&mut buf) {
            Frame::Need => {}
            // A ping restarts the idle clock (below); no pong: the channel carries SIP only.
            Frame::KeepAlive => {
                idle_since = tokio::time::Instant::now();
                continue;
            }
            Frame::Bad(resp, why) => {
                if let Some(r) = resp {
                    let _ = raw_write(&conn, r).await;
                }
                break why;
            }
            Frame::Message(raw) => {
                handle(&raw, peer, &conn, &from, &endpoint, shared).await;
                deadline = None;
                idle_since = tokio::time::Instant::now();
                continue;
            }
        }
        if !buf.is_empty() && deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + limits.incomplete);
        }
        let wake = deadline.unwrap_or(idle_since + limits.idle);
        let n = tokio::select! {
            _ = cancel.cancelled() => break "the provider stopped".to_string(),
            _ = tokio::time::sleep_until(wake) => {
                break match deadline {
                    Some(_) => format!("no complete message within {:.0?}", limits.incomplete),
                    None => format!("idle for {:.0?}", limits.idle),
                };
            }
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => break "closed by the peer".to_string(),
                Ok(n) => n,
            },
        };
        buf.extend_from_slice(&chunk[..n]);
    };
    if why != "closed by the peer" && why != "the provider stopped" {
        closed(shared, peer, &why);
    }
    endpoint.transport_layer.remove_connection(&conn);
    done.cancel();
    let _ = tokio::time::timeout(WRITE, writer).await;
}

/// Write raw bytes on the connection (a refusal written here, a keep-alive answer).
async fn raw_write(conn: &SipConnection, text: String) -> Option<()> {
    let msg = rsipstack::sip::SipMessage::try_from(text.as_bytes()).ok()?;
    conn.send(msg, None).await.ok()
}

/// One step of framing.
enum Frame {
    Need,
    KeepAlive,
    Message(Vec<u8>),
    /// A refusal to write (if any) and why the connection closes.
    Bad(Option<String>, String),
}

/// Take the next whole message (or keep-alive) off the front of `buf`.
fn next_message(buf: &mut Vec<u8>) -> Frame {
    // Keep-alives and stray line ends between messages.
    let lead = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if lead > 0 {
        let ping = buf.starts_with(b"\r\n\r\n");
        buf.drain(..lead);
        if ping {
            return Frame::KeepAlive;
        }
    }
    if buf.is_empty() {
        return Frame::Need;
    }
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Frame::Bad(None, format!("a header section over {MAX_HEAD} bytes"));
        }
        return Frame::Need;
    };
    let head_end = end + 4;
    let fixed = wire::repair(&buf[..head_end]).into_owned();
    let text = String::from_utf8_lossy(&fixed).into_owned();
    let h = wire::Head::read(&text);
    let len = match h.value("Content-Length", "l") {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n <= MAX_BODY => n,
            _ => {
                let resp = h.is_request().then(|| {
                    wire::refusal(&h, "400 Bad Request", &format!("Content-Length `{v}`"))
                });
                return Frame::Bad(resp, format!("Content-Length `{v}`"));
            }
        },
        None => {
            let resp = (h.is_request() && h.method() != "ACK").then(|| {
                wire::refusal(
                    &h,
                    "400 Bad Request",
                    "no Content-Length (required on a stream, RFC 3261 §18.3)",
                )
            });
            return Frame::Bad(resp, "a message with no Content-Length".into());
        }
    };
    if buf.len() < head_end + len {
        return Frame::Need;
    }
    let mut m = fixed;
    m.extend_from_slice(&buf[head_end..head_end + len]);
    buf.drain(..head_end + len);
    Frame::Message(m)
}

/// One whole message: gated, parsed, screened, handed to the stack.
async fn handle(
    raw: &[u8],
    peer: SocketAddr,
    conn: &SipConnection,
    from: &SipAddr,
    endpoint: &EndpointInnerRef,
    shared: &Shared,
) {
    let text = String::from_utf8_lossy(raw);
    let g = wire::gate(&text);
    shared.gated(&text, &format!("TCP {peer}"), &g);
    match g {
        Gate::Pass => super::udp::notice(shared, &text),
        Gate::Answer(resp, _) => {
            let _ = raw_write(conn, resp).await;
            return;
        }
        Gate::Drop(why) => {
            shared.dropped(&format!("TCP {peer}"), &why);
            return;
        }
    }
    let msg = match rsipstack::sip::SipMessage::try_from(raw) {
        Ok(m) => m,
        Err(e) => {
            let h = wire::Head::read(&text);
            let why = format!("unreadable: {e}");
            if let Some(resp) = shared.refuse_raw(&h, &format!("TCP {peer}"), &why) {
                let _ = raw_write(conn, resp).await;
            }
            return;
        }
    };
    let Ok(msg) = SipConnection::update_msg_received(msg, peer, Transport::Tcp) else {
        let why = "a Via the stack cannot read";
        let text = String::from_utf8_lossy(raw);
        shared.gated(&text, &format!("TCP {peer}"), &Gate::Drop(why.into()));
        shared.dropped(&format!("TCP {peer}"), why);
        return;
    };
    if !super::guard::screen(shared, &msg, conn, from).await {
        return;
    }
    let _ = endpoint.on_received_message(msg, conn.clone(), from).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_by_content_length_and_keepalives() {
        let mut b = b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\r\nContent-Length: 3\r\n\r\nabcINV".to_vec();
        assert!(matches!(next_message(&mut b), Frame::KeepAlive));
        let Frame::Message(m) = next_message(&mut b) else {
            panic!()
        };
        assert!(m.ends_with(b"\r\n\r\nabc"));
        assert_eq!(b, b"INV");
        assert!(matches!(next_message(&mut b), Frame::Need));
        // No Content-Length on a stream: 400, and the connection closes.
        let mut b = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n".to_vec();
        let Frame::Bad(Some(r), _) = next_message(&mut b) else {
            panic!()
        };
        assert!(
            r.starts_with("SIP/2.0 400") && r.contains("Call-ID: c\r\n"),
            "{r}"
        );
        // A body that has not all come yet.
        let mut b = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 10\r\n\r\nabc".to_vec();
        assert!(matches!(next_message(&mut b), Frame::Need));
    }
}
