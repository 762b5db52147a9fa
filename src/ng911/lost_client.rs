//! The LNG's side of LoST: a `findService` for `urn:service:sos` at a civic location, POSTed to
//! an ECRF over HTTP (hyper's client), with a deadline. Every way it can fail is told apart, for
//! the call's record: the ECRF refused the connection, did not answer in time, answered with an
//! HTTP error or with something that is not LoST, or answered a LoST error (`notFound` …). The
//! caller routes by default on any of them and records which (issue 30).

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::lost::{self, LostError, Mapping, CIVIC_NS, CONTENT_TYPE, LOST_NS};

/// Why a LoST query gave no mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostFailure {
    /// No connection (refused, unreachable, reset).
    Unreachable(String),
    /// No whole answer within the deadline.
    Timeout(Duration),
    /// An HTTP status other than 2xx.
    Http(u16),
    /// A 2xx body that is not a LoST answer.
    Malformed(String),
    /// The ECRF's own LoST error.
    Lost(LostError),
}

impl std::fmt::Display for LostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LostFailure::Unreachable(e) => write!(f, "ECRF unreachable: {e}"),
            LostFailure::Timeout(d) => write!(f, "ECRF timeout: no answer in {} ms", d.as_millis()),
            LostFailure::Http(s) => write!(f, "ECRF HTTP {s}"),
            LostFailure::Malformed(e) => write!(f, "ECRF answer malformed: {e}"),
            LostFailure::Lost(e) => write!(f, "ECRF {}: {}", e.kind, e.message),
        }
    }
}

/// A `findService` query for `service` at `civic` (RFC 5139 element names), in document order.
pub fn find_service_query(service: &str, civic: &BTreeMap<String, String>) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut elems = String::new();
    for k in lost::CIVIC {
        if let Some(v) = civic.get(k).filter(|v| !v.is_empty()) {
            elems.push_str(&format!("<{k}>{}</{k}>", esc(v)));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <findService xmlns=\"{LOST_NS}\" recursive=\"true\" serviceBoundary=\"reference\">\n\
         \x20<location id=\"lng-1\" profile=\"civic\">\n\
         \x20 <civicAddress xmlns=\"{CIVIC_NS}\">{elems}</civicAddress>\n\
         \x20</location>\n\
         \x20<service>{}</service>\n\
         </findService>\n",
        esc(service)
    )
}

/// POST `query` to the ECRF at `url` (`http://IP:PORT/path`), waiting at most `deadline` for
/// the whole answer.
pub async fn query(url: &str, query: String, deadline: Duration) -> Result<Mapping, LostFailure> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(Full::new(Bytes::from(query)))
        .map_err(|e| LostFailure::Unreachable(format!("{url}: {e}")))?;
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| {
            // The cause chain names what happened (connection refused, reset …).
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            LostFailure::Unreachable(crate::text::one_line(&msg))
        })?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| LostFailure::Unreachable(e.to_string()))?
            .to_bytes();
        if !status.is_success() {
            return Err(LostFailure::Http(status.as_u16()));
        }
        let text = std::str::from_utf8(&body)
            .map_err(|e| LostFailure::Malformed(format!("not UTF-8: {e}")))?;
        match lost::parse_answer(text) {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(LostFailure::Lost(e)),
            Err(e) => Err(LostFailure::Malformed(crate::text::one_line(&e))),
        }
    };
    match tokio::time::timeout(deadline, exchange).await {
        Ok(r) => r,
        Err(_) => Err(LostFailure::Timeout(deadline)),
    }
}
