//! The provider's UDP transport, under rsipstack's transactions: rsipstack reads UDP into 8 KiB
//! and drops what its parser cannot read before anything of ours sees it, so the socket is read
//! here — whole datagrams up to 65,507 bytes (a located INVITE with RFC 7852 parts can pass
//! 8 KB) — each checked and repaired by [`super::wire`], screened by [`super::guard`], and handed
//! to the endpoint as if its own transport had read it. rsipstack keeps the socket for sending
//! (retransmissions, responses, in-dialog requests) through a send-only handle whose receive
//! never completes.

use std::net::SocketAddr;
use std::sync::Arc;

use rsipstack::sip::transport::Transport;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use tokio_util::sync::CancellationToken;

use super::server::Shared;
use super::wire::{self, Gate};

/// The largest UDP payload over IPv4 (65,535 − 8 − 20).
pub const MAX_DATAGRAM: usize = 65_507;

/// The socket as rsipstack sees it: it sends; its reads never complete (ours are in [`serve`]).
struct SendOnly(Arc<tokio::net::UdpSocket>);

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for SendOnly {
    async fn recv_from(&self, _: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        std::future::pending().await
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.0.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.0.local_addr()?)
    }
}

/// Bind `listen`; the connection to register with the transport layer, and the socket to read.
pub async fn bind(
    listen: SocketAddr,
    cancel: CancellationToken,
) -> std::io::Result<(UdpConnection, Arc<tokio::net::UdpSocket>)> {
    let socket = Arc::new(tokio::net::UdpSocket::bind(listen).await?);
    let conn = UdpConnection::from_socket(Arc::new(SendOnly(socket.clone())), None, Some(cancel))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((conn, socket))
}

/// What the call layer learns from a message before the stack answers it: a PRACK stops its
/// reliable 180's retransmissions.
pub(super) fn notice(shared: &Shared, text: &str) {
    let h = wire::Head::read(text);
    if h.is_request() && h.method() == "PRACK" {
        if let Some(c) = h.value("Call-ID", "i") {
            shared.prack(c);
        }
    }
}

/// Read datagrams until `cancel`: each checked, repaired, screened, and handed to `endpoint`.
pub async fn serve(
    socket: Arc<tokio::net::UdpSocket>,
    conn: UdpConnection,
    endpoint: EndpointInnerRef,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, addr) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
        };
        let raw = &buf[..n];
        // Keep-alives (RFC 5626 CRLFCRLF) and stray whitespace.
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            if raw == b"\r\n\r\n" {
                let _ = socket.send_to(b"\r\n", addr).await;
            }
            continue;
        }
        let fixed = wire::repair(raw);
        let text = String::from_utf8_lossy(&fixed);
        let g = wire::gate(&text);
        shared.gated(&text, &format!("UDP {addr}"), &g);
        match g {
            Gate::Pass => notice(&shared, &text),
            Gate::Answer(resp, _) => {
                let _ = socket.send_to(resp.as_bytes(), addr).await;
                continue;
            }
            Gate::Drop(why) => {
                shared.dropped(&addr.to_string(), &why);
                continue;
            }
        }
        let h = wire::Head::read(&text);
        let fixed = match wire::datagram_length(&fixed, &h) {
            Ok(n) => &fixed[..n],
            Err(why) => {
                if let Some(resp) = shared.refuse_raw(&h, &format!("UDP {addr}"), &why) {
                    let _ = socket.send_to(resp.as_bytes(), addr).await;
                }
                continue;
            }
        };
        let msg = match rsipstack::sip::SipMessage::try_from(fixed) {
            Ok(m) => m,
            Err(e) => {
                let why = format!("unreadable: {e}");
                if let Some(resp) = shared.refuse_raw(&h, &format!("UDP {addr}"), &why) {
                    let _ = socket.send_to(resp.as_bytes(), addr).await;
                }
                continue;
            }
        };
        let Ok(msg) = SipConnection::update_msg_received(msg, addr, Transport::Udp) else {
            let why = "a Via the stack cannot read";
            shared.gated(&text, &format!("UDP {addr}"), &Gate::Drop(why.into()));
            shared.dropped(&addr.to_string(), why);
            continue;
        };
        let from = SipAddr {
            r#type: Some(Transport::Udp),
            addr: addr.into(),
        };
        let sc = SipConnection::Udp(conn.clone());
        if !super::guard::screen(&shared, &msg, &sc, &from).await {
            continue;
        }
        // In arrival order, as the stack's own transport hands messages on.
        let _ = endpoint.on_received_message(msg, sc, &from).await;
    }
}
