//! The ECRF on a socket: LoST over HTTP/1.1 (axum), `POST /` with a `findService` body. Every
//! answer is `200 OK` with `application/lost+xml`, errors included (RFC 5222 §13: the error is
//! in the LoST document, not the HTTP status, and Kamailio's LoST client reads only 2xx bodies);
//! a body that is not UTF-8 is a `badRequest` like any other malformed query.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

use super::ecrf::Ecrf;
use super::lost::{self, LostError};

/// One query answered: for the caller's log (`ecrf serve` prints one line each).
#[derive(Debug, Clone)]
pub struct Answered {
    /// `mapping esn-123 CARYPOLICE sip:…`, or the error's kind and message.
    pub outcome: String,
}

struct Shared {
    ecrf: Ecrf,
    on_answer: Box<dyn Fn(Answered) + Send + Sync>,
}

async fn find_service(State(s): State<Arc<Shared>>, body: Bytes) -> impl IntoResponse {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (xml, outcome) = match std::str::from_utf8(&body) {
        Ok(text) => match lost::parse_find_service(text).and_then(|q| s.ecrf.find(&q, now)) {
            Ok(m) => {
                let o = format!("mapping {}", m.uri);
                (lost::mapping_response(&m), o)
            }
            Err(e) => {
                let o = format!("{}: {}", e.kind, e.message);
                (lost::error_response(&e, &s.ecrf.source), o)
            }
        },
        Err(e) => {
            let e = LostError::new("badRequest", format!("the body is not UTF-8: {e}"));
            let o = format!("{}: {}", e.kind, e.message);
            (lost::error_response(&e, &s.ecrf.source), o)
        }
    };
    (s.on_answer)(Answered { outcome });
    ([(CONTENT_TYPE, lost::CONTENT_TYPE)], xml)
}

/// Serve `ecrf` on `listener` until `stop` is set (checked every 50 ms); each answer is told to
/// `on_answer`.
pub async fn serve(
    ecrf: Ecrf,
    listener: tokio::net::TcpListener,
    stop: Arc<AtomicBool>,
    on_answer: impl Fn(Answered) + Send + Sync + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        ecrf,
        on_answer: Box::new(on_answer),
    });
    let app = Router::new()
        .route("/", post(find_service))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
}
