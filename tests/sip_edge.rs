//! `e911 sip serve` as a carrier runs it: stopped by a service manager's signal with calls up,
//! and under faults and abuse on the wire (docs/sip.md "Stopping", "On the wire"). SIPp plays the
//! callers; raw UDP and TCP sockets play what SIPp cannot send.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::sip::{s, skip, Server, FIX};

/// SIPp placing `calls` held calls (tests/sip_fixtures/held-call.xml) at `rate` per second, in
/// the background: each stays up until the provider ends it.
fn held_calls(srv: &Server, local: u16, calls: usize, rate: usize) -> Child {
    Command::new("sipp")
        .args(["-sf", "held-call.xml", "-inf", "valid.csv", "-nostdin"])
        .args(["-m", &calls.to_string(), "-r", &rate.to_string()])
        .args(["-l", &calls.to_string(), "-timeout", "60s"])
        .args(["-p", &local.to_string(), "-mp", &(local + 1000).to_string()])
        .args(["-i", "127.0.0.1"])
        .arg(format!("127.0.0.1:{}", srv.port))
        .current_dir(FIX)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs")
}

fn stop_sipp(mut sipp: Child) {
    let _ = sipp.kill();
    let _ = sipp.wait();
}

/// `sig` with `calls` calls up: exit within 10 s with status 128 + the signal's number, one
/// complete record per call, each released by the provider.
fn drains_on(sig: &str, status: i32, port: u16, calls: usize) {
    let srv = Server::start(port, &["--trunks", "120"]);
    let sipp = held_calls(&srv, port + 10, calls, 25);
    std::thread::sleep(Duration::from_secs_f64(calls as f64 / 25.0 + 4.0));
    let (st, took, recs) = srv.signal(sig);
    stop_sipp(sipp);
    eprintln!(
        "SIG{sig} with {calls} calls up: exit {st} after {took:.2?}, {} records",
        recs.len()
    );
    assert_eq!(st.code(), Some(status), "exit status after SIG{sig}");
    assert!(
        took < Duration::from_secs(10),
        "SIG{sig}: exit after {took:?}"
    );
    assert_eq!(recs.len(), calls, "one record per call: {recs:#?}");
    let mut ids: Vec<u64> = recs.iter().map(|r| r["call"].as_u64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), calls, "every call once");
    for r in &recs {
        assert_eq!(s(r, "kind"), "psap", "{r:#}");
        assert_eq!(s(r, "ended_by"), "shutdown", "{r:#}");
        assert!(!s(r, "call_id").is_empty());
        assert!(r["tandem"].is_object(), "the tandem's record: {r:#}");
        // CARYPOLICE, or where its overflow sent the call once every position was busy.
        assert!(
            ["CARYPOLICE", "APEXPOLICE"].contains(&s(r, "psap")),
            "{r:#}"
        );
        assert_eq!(s(r, "psap"), s(&r["tandem"], "psap"), "{r:#}");
    }
}

#[test]
fn sip_sigterm_with_50_calls_up_drains_every_call_into_its_record() {
    if skip() {
        return;
    }
    drains_on("TERM", 143, 26060, 50);
}

#[test]
fn sip_sighup_drains_like_sigterm() {
    if skip() {
        return;
    }
    drains_on("HUP", 129, 26160, 20);
}

/// A drain cut short (`--drain 0`, as a second signal does) still writes one record per call,
/// `shutdown (forced)`, at once.
#[test]
fn sip_forced_shutdown_still_records_every_call() {
    if skip() {
        return;
    }
    let srv = Server::start(26260, &["--trunks", "60", "--drain", "0"]);
    let sipp = held_calls(&srv, 26270, 10, 20);
    std::thread::sleep(Duration::from_secs(4));
    let (st, took, recs) = srv.signal("TERM");
    stop_sipp(sipp);
    assert_eq!(st.code(), Some(143));
    assert!(took < Duration::from_secs(5), "forced: exit after {took:?}");
    assert_eq!(recs.len(), 10, "{recs:#?}");
    for r in &recs {
        assert_eq!(s(r, "ended_by"), "shutdown (forced)", "{r:#}");
    }
}
