//! Requests the stack would drop without a word (the UDP and TCP transports, `udp.rs` and
//! `tcp.rs`, run every message through [`screen`] before the endpoint sees it): one that parses as SIP but lacks what a
//! transaction needs (a From tag, a CSeq that reads, a Call-ID, a Via branch) gets
//! `400 Bad Request` with a `Warning` naming what is wrong, sent back where it came from. An
//! INVITE refused this way still gets its record (`kind: refused`), so no emergency call vanishes
//! unseen. Bytes that are not SIP at all are dropped by the transport (RFC 3261 §18.3 leaves a
//! server nothing to answer them with).

use rsipstack::sip::{HasHeaders, Header, HeadersExt, Method, Request, Response, SipMessage};
use rsipstack::sip::{StatusCode, Version};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::{SipAddr, SipConnection};

use super::server::Shared;

/// What is wrong with a request, if anything a transaction cannot live with.
pub fn check(req: &Request) -> Result<(), String> {
    let cseq = req.cseq_header().map_err(|e| format!("CSeq: {e}"))?;
    let seq = cseq.seq().map_err(|e| format!("CSeq `{cseq}`: {e}"))?;
    let m = cseq.method().map_err(|e| format!("CSeq `{cseq}`: {e}"))?;
    if m != req.method {
        return Err(format!(
            "CSeq `{seq} {m}` does not match the method {}",
            req.method
        ));
    }
    req.call_id_header().map_err(|e| format!("Call-ID: {e}"))?;
    let from = req.from_header().map_err(|e| format!("From: {e}"))?;
    if req.method != Method::Ack && from.tag().ok().flatten().is_none() {
        return Err("From has no tag".into());
    }
    req.to_header().map_err(|e| format!("To: {e}"))?;
    if req.method == Method::Invite && req.header_value("Contact").is_none() {
        return Err("an INVITE needs a Contact".into());
    }
    TransactionKey::from_request(req, TransactionRole::Server).map_err(|e| format!("{e}"))?;
    Ok(())
}

/// The 400 for `req`: its Via, From, To, Call-ID and CSeq as they came, and the reason.
fn bad_request(req: &Request, why: &str) -> Response {
    let mut headers = rsipstack::sip::Headers(Vec::new());
    for h in req.headers().iter() {
        let n = h.name().to_ascii_lowercase();
        if matches!(
            n.as_str(),
            "via" | "v" | "from" | "f" | "to" | "t" | "call-id" | "i" | "cseq"
        ) {
            headers.push(h.clone());
        }
    }
    headers.push(Header::Other(
        "Warning".into(),
        format!("399 e911 \"malformed request: {}\"", why.replace('"', "'")),
    ));
    headers.push(Header::ContentLength(0.into()));
    Response {
        status_code: StatusCode::BadRequest,
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Let `msg` through to the stack, or answer it `400` here (and record a refused INVITE).
pub async fn screen(
    shared: &Shared,
    msg: &SipMessage,
    conn: &SipConnection,
    from: &SipAddr,
) -> bool {
    if let SipMessage::Request(req) = msg {
        if let Err(why) = check(req) {
            let resp = bad_request(req, &why);
            let _ = conn.send(SipMessage::Response(resp), Some(from)).await;
            if req.method == Method::Invite {
                shared.refused(req, &from.to_string(), &why);
            }
            return false;
        }
    }
    true
}
