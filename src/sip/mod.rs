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
pub mod call_state;
mod call_timers;
mod config;
pub mod guard;
pub mod invite;
pub mod media;
pub mod office;
pub mod record;
mod registry;
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

/// The capacity of every channel between the SIP side, the office and the records' writer.
const CHANNEL: usize = 4096;

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
    /// Addresses registered for callback numbers (`--registered`).
    pub registered: crate::location::registered::Registered,
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
    let mut provider = SipProvider::new(s.msag.clone(), s.npa, &esns, s.esqk_per_esn);
    provider.registered = s.registered;
    let mut sc = s.sc;
    for (k, e) in provider.srdb_rows() {
        sc.office.srdb.insert(k, e);
    }
    let office_tables = sc.office.clone();
    // Every channel is bounded. Commands to the office and its events back make their senders
    // wait when full (the office drains its commands every 10 ms block); records make theirs
    // wait and are never dropped (the writer is this thread, below).
    let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(CHANNEL);
    let (ev_tx, ev_rx) = crossbeam_channel::bounded(CHANNEL);
    let (rec_tx, rec_rx) = crossbeam_channel::bounded::<SipRecord>(CHANNEL);
    let (ready_tx, ready_rx) = crossbeam_channel::bounded::<String>(1);
    // One clock for every record: ms since now.
    let started = std::time::Instant::now();
    let opts = office::Opts {
        started,
        esgw: s.esgw.clone(),
        psap_release: crate::units::ms_to_samples(s.psap_release_ms) as u64,
        keep_audio: s.keep_audio,
    };
    let office = std::thread::Builder::new()
        .name("office".into())
        .spawn(move || office::run(sc, opts, cmd_rx, ev_tx))?;
    let shared = server::Shared::new(
        s.cfg,
        office_tables,
        provider,
        cmd_tx.clone(),
        rec_tx,
        started,
    );
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
    // SIP and RTP on the runtime, on their own thread; this thread writes the records.
    let side = SipSide {
        listen: s.listen,
        seconds: s.seconds,
        stop: s.stop.clone(),
        forced: s.forced.clone(),
        drain: s.drain,
        tcp: s.tcp,
        shared,
        ready: ready_tx,
    };
    let sip_thread = std::thread::Builder::new()
        .name("sip".into())
        .spawn(move || {
            let result = rt.block_on(sip_side(side));
            rt.shutdown_timeout(Duration::from_secs(1));
            result
        })?;
    // The records' writer: each as it comes, off the SIP side's threads.
    // (A channel whose sender is gone is always ready: each is swapped for `never` once done.)
    let mut ready_rx = ready_rx;
    loop {
        crossbeam_channel::select! {
            recv(ready_rx) -> a => {
                if let Ok(a) = a {
                    on_ready(&a);
                }
                ready_rx = crossbeam_channel::never();
            },
            recv(rec_rx) -> r => if let Ok(r) = r { on_record(r) },
            default(Duration::from_millis(100)) => if sip_thread.is_finished() { break },
        }
    }
    let result = sip_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the SIP thread failed"))?;
    let _ = cmd_tx.send(office::Cmd::Stop);
    drop(cmd_tx);
    let office_result = office
        .join()
        .map_err(|_| anyhow::anyhow!("the office thread failed"))?;
    let _ = forward.join();
    while let Ok(r) = rec_rx.try_recv() {
        on_record(r);
    }
    office_result.map_err(anyhow::Error::msg)?;
    result
}

/// What the SIP side runs with.
struct SipSide {
    listen: SocketAddr,
    seconds: Option<f64>,
    stop: Arc<AtomicBool>,
    forced: Arc<AtomicBool>,
    drain: Duration,
    tcp: tcp::Limits,
    shared: Arc<server::Shared>,
    ready: crossbeam_channel::Sender<String>,
}

/// The SIP side: the transports, the endpoint, a task per INVITE; until `seconds` or `stop`,
/// then the drain.
async fn sip_side(p: SipSide) -> anyhow::Result<()> {
    let SipSide {
        listen,
        seconds,
        stop: flag,
        forced,
        drain,
        tcp: tcp_limits,
        shared,
        ready: ready_tx,
    } = p;
    let stop = CancellationToken::new();
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
    let addrs: Vec<String> = endpoint.get_addrs().iter().map(|a| a.to_string()).collect();
    let _ = ready_tx.send(addrs.join(", "));
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
        if forcing.is_some_and(|f| f.elapsed() > Duration::from_secs(4)) {
            break;
        }
        // Requests keep being answered while draining: a new INVITE gets its 503 and its
        // record, a caller's BYE or re-INVITE its dialog.
        tokio::select! {
            tx = incoming.recv() => if let Some(tx) = tx {
                tokio::spawn(server::incoming(shared.clone(), layer.clone(), stop.clone(), tx));
            },
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    token.cancel();
    Ok(())
}
