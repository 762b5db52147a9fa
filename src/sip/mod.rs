//! `e911 sip serve`: the seed's SIP-trunk E9-1-1 service provider on real sockets (docs/sip.md).
//! A PBX, SBC or Lync/Teams trunk sends its emergency INVITEs here (UDP or TCP); the provider
//! reads the PIDF-LO ([`invite`]), validates it against the MSAG, gives a valid location an ESQK
//! and delivers the call over its ESGW trunk group into the selective router ([`office`]), whose
//! PSAP gets the ESQK as ANI and the caller's voice from RTP ([`media`]). No, garbled or invalid
//! locations go to the ECRC; `933` is answered by the provider itself. Each INVITE ends in one
//! [`record::SipRecord`].
//!
//! Threads: a tokio runtime for SIP (rsipstack) and RTP; one office thread paced by the clock;
//! channels between them. The office knows nothing of SIP: a SIP call is a trunk call to it,
//! with its voice behind [`crate::sim::world::CallAudio`].

mod call;
mod call_timers;
pub mod guard;
pub mod invite;
pub mod media;
pub mod office;
pub mod record;
pub mod rfc4733;
pub mod rtp_source;
pub mod sdp;
pub mod server;
pub mod session;
pub mod tcp;
pub mod udp;
pub mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::transport::TransportLayer;
use rsipstack::EndpointBuilder;
use tokio_util::sync::CancellationToken;

use crate::location::enterprise::SipProvider;
use crate::location::msag::Msag;
use crate::sim::scenario::Scenario;
use record::SipRecord;

/// Everything `sip serve` needs.
pub struct Serve {
    /// The office (datafill, ALI, trunk groups with the ESGW's trunk count, attendants).
    pub sc: Scenario,
    pub msag: Msag,
    /// The ESGW trunk group's key.
    pub esgw: String,
    /// NPA of the ESQKs.
    pub npa: u16,
    pub esqk_per_esn: u32,
    pub listen: SocketAddr,
    pub cfg: server::Config,
    /// Stop after this long (None: until `stop`).
    pub seconds: Option<f64>,
    /// Set from outside (a signal: SIGINT, SIGTERM, SIGHUP) to drain: new INVITEs get `503`,
    /// calls up are released (BYE, or `480` before an answer), every record is written.
    pub stop: Arc<AtomicBool>,
    /// Set from outside (a second signal) to end the drain at once: each call still up gets a
    /// `shutdown (forced)` record.
    pub forced: Arc<AtomicBool>,
    /// The longest a drain waits for calls to be released before forcing them.
    pub drain: Duration,
    /// TCP connections' deadlines and limits.
    pub tcp: tcp::Limits,
    pub keep_audio: bool,
    /// The PSAP attendant hangs up this long after the caller has gone.
    pub psap_release_ms: f64,
}

/// Run the provider until `seconds` or `stop`; `on_record` gets each record as its call ends
/// and `on_ready` the addresses once the sockets are bound.
pub fn serve(
    s: Serve,
    on_ready: &mut dyn FnMut(&str),
    on_record: &mut dyn FnMut(SipRecord),
) -> anyhow::Result<()> {
    let esns: Vec<u16> = s.sc.office.esns.keys().copied().collect();
    let provider = SipProvider::new(s.msag.clone(), s.npa, &esns, s.esqk_per_esn);
    let mut sc = s.sc;
    for (k, e) in provider.srdb_rows() {
        sc.office.srdb.insert(k, e);
    }
    let office_tables = sc.office.clone();
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
    let (rec_tx, rec_rx) = crossbeam_channel::unbounded::<SipRecord>();
    let opts = office::Opts {
        esgw: s.esgw.clone(),
        psap_release: crate::units::ms_to_samples(s.psap_release_ms) as u64,
        keep_audio: s.keep_audio,
    };
    let office = std::thread::Builder::new()
        .name("office".into())
        .spawn(move || office::run(sc, opts, cmd_rx, ev_tx))?;
    let shared = server::Shared::new(s.cfg, office_tables, provider, cmd_tx.clone(), rec_tx);
    let sh = shared.clone();
    let forward = std::thread::spawn(move || {
        for ev in ev_rx {
            sh.office_event(ev);
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = CancellationToken::new();
    let (flag, forced, drain, tcp_limits) = (s.stop.clone(), s.forced.clone(), s.drain, s.tcp);
    let listen = s.listen;
    let seconds = s.seconds;
    let result: anyhow::Result<()> = rt.block_on(async {
        let token = CancellationToken::new();
        let tl = TransportLayer::new(token.clone());
        let (udp, udp_socket) = udp::bind(listen, token.child_token())
            .await
            .map_err(|e| anyhow::anyhow!("--listen {listen}: UDP: {e}"))?;
        tl.add_transport(udp.clone().into());
        let tcp = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("--listen {listen}: TCP: {e}"))?;
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(token.clone())
            .with_transport_layer(tl)
            .with_user_agent("e911-tandem provider")
            .build();
        let mut incoming = endpoint
            .incoming_transactions()
            .map_err(|e| anyhow::anyhow!("SIP endpoint: {e}"))?;
        let layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let addrs: Vec<String> = endpoint
            .get_addrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
        on_ready(&addrs.join(", "));
        let ep = endpoint.inner.clone();
        tokio::spawn(async move { ep.serve().await });
        tokio::spawn(udp::serve(
            udp_socket,
            udp,
            endpoint.inner.clone(),
            shared.clone(),
            token.child_token(),
        ));
        tokio::spawn(tcp::serve(
            tcp,
            endpoint.inner.clone(),
            shared.clone(),
            tcp_limits,
            token.child_token(),
        ));
        let t0 = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                tx = incoming.recv() => match tx {
                    Some(tx) => {
                        tokio::spawn(server::incoming(shared.clone(), layer.clone(), stop.clone(), tx));
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    let over = seconds.is_some_and(|s| t0.elapsed().as_secs_f64() >= s);
                    if over || flag.load(Ordering::SeqCst) {
                        break;
                    }
                }
            }
            while let Ok(r) = rec_rx.try_recv() {
                on_record(r);
            }
        }
        // Stop: every call still up is ended (BYE, or 480 before an answer) and recorded. A
        // second signal, or a drain longer than `drain`, forces the calls still up: each writes
        // its record at once, `shutdown (forced)`.
        stop.cancel();
        let t = Instant::now();
        let mut forcing: Option<Instant> = None;
        while shared.calls_up() > 0 {
            if forcing.is_none() && (forced.load(Ordering::SeqCst) || t.elapsed() >= drain) {
                shared.force_all();
                forcing = Some(Instant::now());
            }
            if forcing.is_some_and(|f| f.elapsed() > Duration::from_secs(2)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(r) = rec_rx.try_recv() {
                on_record(r);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
        Ok(())
    });
    let _ = cmd_tx.send(office::Cmd::Stop);
    drop(cmd_tx);
    drop(shared);
    let office_result = office
        .join()
        .map_err(|_| anyhow::anyhow!("the office thread failed"))?;
    let _ = forward.join();
    rt.shutdown_timeout(Duration::from_secs(1));
    while let Ok(r) = rec_rx.try_recv() {
        on_record(r);
    }
    office_result.map_err(anyhow::Error::msg)?;
    result
}
