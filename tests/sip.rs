//! `e911 sip serve` driven by a real SIP tool: SIPp 3.6.1 (Debian `sip-tester`) plays the PBX
//! with the scenarios in tests/sip_fixtures (docs/sip.md). Each test runs its own server on its
//! own port and checks every record against what the scenario sent: where the call went, why,
//! and what was heard — the caller's 1004 Hz tone (a raw μ-law file made by sox) on the PSAP
//! leg, and the PSAP's 440 Hz voice in the RTP the provider sent back. G.711 is decoded here with
//! the standard's formula, not the crate's tables. SIPp is required: scripts/test installs it;
//! E911_SKIP_SIPP=1 skips these tests on a machine where that is impossible.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sip_fixtures");

pub(crate) fn skip() -> bool {
    if std::env::var("E911_SKIP_SIPP").as_deref() == Ok("1") {
        eprintln!("SIPp tests skipped (E911_SKIP_SIPP=1)");
        return true;
    }
    let ok = Command::new("sipp")
        .arg("-v")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("SIPp"));
    assert!(
        ok,
        "SIPp is not installed (apt-get install sip-tester; scripts/test does it), or set E911_SKIP_SIPP=1"
    );
    false
}

pub(crate) struct Server {
    pub child: Child,
    pub port: u16,
    pub out: PathBuf,
}

/// A test that fails leaves no server behind (a later run would find its ports taken).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The server on the load office (tests/sip_fixtures/load.dat: 99 positions at each PSAP,
    /// so no call waits for a position) with the Cary MSAG and its ESGW group.
    pub fn start_load_office(port: u16, extra: &[&str]) -> Server {
        let load = format!("{FIX}/load.dat");
        let msag = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/datafill/cary.msag");
        let mut args = vec!["--datafill", &load, "--msag", msag, "--esgw", "VPCESGW"];
        args.extend_from_slice(extra);
        Server::start(port, &args)
    }

    pub fn start(port: u16, extra: &[&str]) -> Server {
        let out = std::env::temp_dir().join(format!("e911-sip-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_e911"))
            .args(["sip", "serve", "--listen", &listen, "--seconds", "120"])
            .args(["--format", "jsonl", "--out"])
            .arg(&out)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("e911 runs");
        // Wait for the sockets.
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if err.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("e911 sip serve ended before listening");
            }
            if line.contains("listening on") {
                break;
            }
        }
        std::thread::spawn(move || {
            let mut s = String::new();
            while err.read_line(&mut s).unwrap_or(0) > 0 {
                eprint!("server {port}: {s}");
                s.clear();
            }
        });
        Server { child, port, out }
    }

    /// Stop with SIGINT (as a user's Ctrl-C) and read every record.
    pub fn stop(self) -> Vec<serde_json::Value> {
        self.signal("INT").2
    }

    /// Send `sig` (`INT`, `TERM`, `HUP`); the exit status, how long the server took to exit,
    /// and every record.
    pub fn signal(
        mut self,
        sig: &str,
    ) -> (std::process::ExitStatus, Duration, Vec<serde_json::Value>) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        let status = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st;
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("e911 sip serve did not stop within 20 s of SIG{sig}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = t.elapsed();
        (status, took, self.records())
    }

    /// Every record written so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.out.join("calls.jsonl")).expect("calls.jsonl");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON record"))
            .collect()
    }

    /// Run one SIPp scenario against the server; it must end with its one call successful.
    fn sipp(&self, scenario: &str, csv: &str, local: u16, extra: &[&str]) {
        let err = self.out.with_extension(format!("{local}.err"));
        let o = Command::new("timeout")
            .arg("60")
            .arg("sipp")
            .args(["-sf", scenario, "-inf", csv, "-m", "1", "-nostdin"])
            .args(["-p", &local.to_string(), "-mp", &(local + 1000).to_string()])
            .args(["-i", "127.0.0.1", "-trace_err", "-error_file"])
            .arg(&err)
            .args(extra)
            .arg(format!("127.0.0.1:{}", self.port))
            .current_dir(FIX)
            .output()
            .expect("sipp runs");
        assert!(
            o.status.success(),
            "sipp {scenario} failed ({}): {}",
            o.status,
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }
}

/// G.711 μ-law → linear, from the standard's definition (ITU-T G.711 table 2a, ×4 to 16 bits).
pub(crate) fn ulaw(c: u8) -> f64 {
    let c = !c;
    let sign = if c & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = ((c >> 4) & 7) as i32;
    let mant = (c & 15) as f64;
    sign * ((((mant * 2.0 + 33.0) * f64::powi(2.0, exp)) - 33.0) * 4.0)
}

/// Amplitude of the `hz` component of `x` (Goertzel, a whole number of cycles or close).
pub(crate) fn amplitude(x: &[f64], hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * p.sqrt() / x.len() as f64
}

fn db(a: f64, b: f64) -> f64 {
    20.0 * (a / b).log10()
}

/// 100 ms windows of `x` in which `hz` carries most of the power, and their mean amplitude.
pub(crate) fn tone_windows(x: &[f64], hz: f64) -> (usize, f64) {
    let mut amps = Vec::new();
    for w in x.chunks_exact(800) {
        let rms = (w.iter().map(|v| v * v).sum::<f64>() / 800.0).sqrt();
        let a = amplitude(w, hz);
        if rms > 100.0 && a / std::f64::consts::SQRT_2 > 0.9 * rms {
            amps.push(a);
        }
    }
    let n = amps.len();
    (n, amps.iter().sum::<f64>() / n.max(1) as f64)
}

pub(crate) fn wav(p: &Path) -> Vec<f64> {
    hound::WavReader::open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .samples::<i16>()
        .map(|s| s.unwrap() as f64)
        .collect()
}

pub(crate) fn s<'a>(r: &'a serde_json::Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or("")
}

#[test]
fn sip_validated_pidf_call_reaches_the_psap_with_its_esqk_and_the_callers_voice() {
    if skip() {
        return;
    }
    let srv = Server::start(25060, &["--wav"]);
    srv.sipp("pidf-call.xml", "valid.csv", 25070, &["-d", "2000"]);
    srv.sipp(
        "pidf-call.xml",
        "valid.csv",
        25072,
        &["-d", "1000", "-t", "t1"],
    );
    let out = srv.out.clone();
    let recs = srv.stop();
    assert_eq!(recs.len(), 2, "one record per INVITE: {recs:#?}");
    for (r, transport) in recs.iter().zip(["UDP", "TCP"]) {
        assert_eq!(s(r, "transport"), transport);
        assert_eq!(s(r, "kind"), "psap", "{r:#}");
        assert_eq!(s(r, "dialled"), "+911");
        assert_eq!(s(r, "callback"), "919-555-0188");
        assert_eq!(s(r, "location_by"), "Geolocation <cid:loc1@acme.example>");
        assert_eq!(r["esn"], 123);
        assert_eq!(s(r, "psap"), "CARYPOLICE");
        assert_eq!(s(r, "ended_by"), "caller BYE");
        let esqk = s(r, "esqk").replace('-', "");
        assert!(esqk.starts_with("919211"), "ESQK NPA-211-XXXX: {esqk}");
        // The tandem got the ESQK as the ANI spill and routed it on its ESN.
        let t = &r["tandem"];
        assert_eq!(s(t, "trunk"), "VPCESGW");
        assert_eq!(s(t, "ani_spill"), format!("KP 0 {} ST", &esqk[3..]));
        assert_eq!(s(t, "ani"), esqk);
        assert_eq!(t["esn"], 123);
        // The PSAP decoded the ESQK from its spill; its ALI query returned the PIDF-LO location
        // and the callback number.
        let sc = &r["screens"][0];
        assert_eq!(s(sc, "ani"), esqk);
        let screen = s(sc, "screen");
        for want in [
            "123 MAIN ST",
            "CARY NC",
            "Bldg 4 Fl 2",
            "VOIP CBN 9195550188",
        ] {
            assert!(screen.contains(want), "{want} not in {screen}");
        }
        assert_eq!(r["media"]["lost"], 0);
        assert!(r["media"]["packets_in"].as_u64().unwrap() >= 40);
        assert!(r["ringing_ms"].as_f64().unwrap() < r["answered_ms"].as_f64().unwrap());
        // Finding 18 (issue 29): one clock, one unit in a record — ms since the server
        // started, the tandem's times included: the INVITE, then the trunk seized, the 180,
        // the 200, the end, in that order on that clock.
        let at = |v: &serde_json::Value, k: &str| {
            v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v:#}"))
        };
        assert!(
            r.get("invite_s").is_none() && r.get("duration_s").is_none(),
            "{r:#}"
        );
        let times = [
            at(r, "invite_ms"),
            at(r, "ringing_ms"),
            at(r, "answered_ms"),
            at(r, "ended_ms"),
        ];
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?} {r:#}");
        // The tandem's times on the same clock: its trunk seized after the INVITE and its
        // position answered before our 200 (the office's clock may lag the wall clock by a few
        // blocks when it runs late: 200 ms of slack, far below the seconds a wrong clock is off).
        assert!(at(t, "seized_ms") + 200.0 >= at(r, "invite_ms"), "{r:#}");
        assert!(at(t, "seized_ms") <= at(r, "ringing_ms") + 200.0, "{r:#}");
        assert!(
            at(t, "answered_ms") <= at(r, "answered_ms") + 200.0,
            "{r:#}"
        );
    }
    // The caller's 1004 Hz tone on the PSAP leg at the level SIPp sent (through the SF notch).
    let sent: Vec<f64> = std::fs::read(Path::new(FIX).join("tone1004.ulaw"))
        .unwrap()
        .into_iter()
        .map(ulaw)
        .collect();
    let want = amplitude(&sent, 1004.0);
    let heard = wav(&out.join("call-1-psap.wav"));
    let (n, got) = tone_windows(&heard, 1004.0);
    assert!(n >= 10, "1004 Hz for {n} × 100 ms on the PSAP leg (≥ 1 s)");
    let d = db(got, want);
    eprintln!("PSAP leg: 1004 Hz for {n} × 100 ms at {d:+.2} dB of what the caller sent");
    assert!(
        d.abs() < 1.0,
        "1004 Hz at {d:+.2} dB of what the caller sent"
    );
}

#[test]
fn sip_unusable_locations_go_to_the_ecrc_with_the_reason() {
    if skip() {
        return;
    }
    let srv = Server::start(25160, &["--ecrc", "WAKE ECRC"]);
    srv.sipp("pidf-call.xml", "not-in-msag.csv", 25170, &["-d", "500"]);
    srv.sipp("garbled.xml", "valid.csv", 25172, &["-d", "500"]);
    srv.sipp("no-location.xml", "valid.csv", 25174, &["-d", "500"]);
    // A re-INVITE and an OPTIONS in the dialog each get their 200 (SIPp checks the re-INVITE's
    // answer has its audio line), and the call goes on to the caller's BYE.
    srv.sipp("reinvite.xml", "valid.csv", 25176, &[]);
    let recs = srv.stop();
    assert_eq!(recs.len(), 4, "{recs:#?}");
    assert_eq!(s(&recs[3], "ended_by"), "caller BYE", "{:#}", recs[3]);
    let want = [
        "LOCATION NOT IN THE MSAG",
        "GARBLED PIDF-LO: Geolocation <cid:bad1@pbx.example>",
        "NO LOCATION IN THE INVITE",
    ];
    for (r, why) in recs.iter().zip(want) {
        assert_eq!(s(r, "kind"), "ecrc", "{r:#}");
        assert_eq!(s(r, "psap"), "WAKE ECRC");
        assert!(s(r, "reason").starts_with(why), "{why}: {r:#}");
        assert!(r["answered_ms"].as_f64().is_some(), "the ECRC answers");
        assert!(
            r.get("tandem").is_none(),
            "an ECRC call never seizes a trunk"
        );
        assert_eq!(s(r, "ended_by"), "caller BYE");
    }
    assert_eq!(s(&recs[0], "address"), "999 NOWHERE ST, CARY NC");
    assert_eq!(s(&recs[1], "dialled"), "urn:service:sos");
}

#[test]
fn sip_nested_multipart_cancel_and_933() {
    if skip() {
        return;
    }
    let srv = Server::start(25260, &[]);
    srv.sipp("nested.xml", "valid.csv", 25270, &["-d", "500"]);
    srv.sipp("cancel.xml", "valid.csv", 25272, &[]);
    srv.sipp("test-933.xml", "valid.csv", 25274, &[]);
    let recs = srv.stop();
    assert_eq!(recs.len(), 3, "{recs:#?}");
    let (n, c, t) = (&recs[0], &recs[1], &recs[2]);
    assert_eq!(s(n, "kind"), "psap", "{n:#}");
    assert_eq!(s(n, "location_by"), "Geolocation <cid:nested1@sbc.example>");
    assert_eq!(s(n, "psap"), "CARYPOLICE");
    // CANCEL once the PSAP rang: never answered, the trunk released, one record.
    assert_eq!(s(c, "ended_by"), "CANCEL", "{c:#}");
    let rang = c["ringing_ms"].as_f64().unwrap();
    assert!(c["answered_ms"].is_null());
    // Abandoned when the caller left, after the 180: the record says so whatever the PSAP
    // position does afterwards.
    let left = c["abandoned_ms"].as_f64().expect("abandoned_ms");
    assert!(
        left > rang && left <= c["ended_ms"].as_f64().unwrap() + 1.0,
        "{c:#}"
    );
    assert!(c["tandem"]["released_ms"].as_f64().is_some(), "{c:#}");
    // 933: answered by the provider; the MESSAGE told the caller where 911 would go (SIPp
    // checked it arrived with that text).
    assert_eq!(s(t, "kind"), "test", "{t:#}");
    assert_eq!(s(t, "dialled"), "933");
    let m = s(t, "message");
    for want in [
        "919-555-0188",
        "123 MAIN ST, CARY NC",
        "ESN 123",
        "WOULD REACH CARYPOLICE",
    ] {
        assert!(m.contains(want), "{want} not in {m}");
    }
    assert!(t.get("tandem").is_none());
    assert_eq!(s(t, "ended_by"), "provider BYE (test call done)");
}

#[test]
fn sip_psap_hangs_up_and_its_voice_comes_back_in_rtp() {
    if skip() {
        return;
    }
    let srv = Server::start(25360, &["--hold", "3"]);
    let sink = UdpSocket::bind("127.0.0.1:25390").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let got = std::thread::spawn(move || {
        let mut pcm = Vec::new();
        let mut buf = [0u8; 2048];
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if let Ok(n) = sink.recv(&mut buf) {
                // RTP: 12-byte header (no CSRC, no extension from us), PT 0.
                assert_eq!(buf[1] & 0x7f, 0, "payload type PCMU");
                pcm.extend(buf[12..n].iter().map(|&c| ulaw(c)));
            } else if !pcm.is_empty() && t.elapsed() > Duration::from_secs(12) {
                break;
            }
        }
        pcm
    });
    srv.sipp(
        "psap-bye.xml",
        "valid.csv",
        25370,
        &["-key", "sink", "25390"],
    );
    let recs = srv.stop();
    let pcm = got.join().unwrap();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(s(r, "ended_by"), "PSAP BYE", "{r:#}");
    assert!(r["tandem"]["position_released_ms"].as_f64().is_some());
    // --psap-voice's default, tone 440 −20 dBm0, for the 3 s the PSAP held the call.
    let (n, a) = tone_windows(&pcm, 440.0);
    assert!(n >= 20, "440 Hz for {n} × 100 ms in the RTP (≥ 2 s)");
    // 0 dBm0 is 3.17 dB below a full-scale μ-law sine (peak 8159 × 4).
    let zero_dbm0 = 32636.0 / 10f64.powf(3.17 / 20.0);
    let level = db(a, zero_dbm0);
    eprintln!("RTP to the caller: 440 Hz for {n} × 100 ms at {level:.2} dBm0");
    assert!((level + 20.0).abs() < 1.0, "PSAP voice at {level:.2} dBm0");
}

#[test]
fn sip_bad_requests_get_4xx_and_the_server_goes_on() {
    if skip() {
        return;
    }
    let srv = Server::start(25460, &[]);
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let to = "127.0.0.1:25460";
    let mut buf = [0u8; 4096];
    // Garbage: dropped (there is nothing to answer it with), no crash.
    u.send_to(b"\x00\x01garbage\r\n\r\n", to).unwrap();
    // INVITEs that parse but that no transaction can carry: 400 naming what is wrong, and a
    // record each.
    let me = u.local_addr().unwrap();
    for (k, (bad, why)) in [
        ("From: <sip:9195550188@pbx>;tag=1", "From has no tag"),
        ("CSeq: 1 INVITE", "does not match the method"),
        ("Call-ID: bad2", "Call-ID"),
        ("Max-Forwards: 70", "Contact"),
    ]
    .into_iter()
    .enumerate()
    {
        let good = format!(
            "INVITE sip:911@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKbad{k}\r\nFrom: <sip:9195550188@pbx>;tag=1\r\nTo: <sip:911@127.0.0.1>\r\nCall-ID: bad{k}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        // (The others have a Contact; the fourth has none.)
        let good = if k < 3 {
            good.replace(
                "Max-Forwards",
                &format!("Contact: <sip:pbx@{me}>\r\nMax-Forwards"),
            )
        } else {
            good
        };
        let broken = match k {
            0 => good.replace(bad, "From: <sip:9195550188@pbx>"),
            1 => good.replace(bad, "CSeq: 1 BYE"),
            2 => good.replace(&format!("{bad}\r\n"), ""),
            _ => good,
        };
        u.send_to(broken.as_bytes(), to).unwrap();
        let n = u.recv(&mut buf).expect("an answer to a malformed INVITE");
        let resp = String::from_utf8_lossy(&buf[..n]);
        assert!(resp.starts_with("SIP/2.0 400"), "{resp}");
        assert!(
            resp.contains("Warning: 399 e911") && resp.contains(why),
            "{why}: {resp}"
        );
    }
    // REGISTER: 405 with a reason.
    let reg = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKreg1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: reg1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        u.local_addr().unwrap()
    );
    u.send_to(reg.as_bytes(), to).unwrap();
    let n = u.recv(&mut buf).expect("an answer to REGISTER");
    let resp = String::from_utf8_lossy(&buf[..n]);
    assert!(resp.starts_with("SIP/2.0 405"), "{resp}");
    assert!(resp.contains("Warning: 399"), "{resp}");
    // OPTIONS (a trunk's keep-alive): 200.
    let opt = reg
        .replace("REGISTER", "OPTIONS")
        .replace("reg1", "opt1")
        .replace("z9hG4bKreg1", "z9hG4bKopt1");
    u.send_to(opt.as_bytes(), to).unwrap();
    let n = u.recv(&mut buf).expect("an answer to OPTIONS");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("SIP/2.0 200"));
    // Not an emergency number: 404 with the reason (SIPp checks the Warning header).
    srv.sipp("not-emergency.xml", "valid.csv", 25470, &[]);
    // And a real call still goes through.
    srv.sipp("no-location.xml", "valid.csv", 25472, &["-d", "300"]);
    let recs = srv.stop();
    // Every INVITE to 911 has its record: the four refused, then the call that went through.
    assert_eq!(recs.len(), 5, "{recs:#?}");
    for r in &recs[..4] {
        assert_eq!(s(r, "kind"), "refused", "{r:#}");
        assert!(s(r, "reason").starts_with("400 MALFORMED REQUEST"));
    }
    assert_eq!(s(&recs[4], "kind"), "ecrc");
}

#[test]
fn sip_rtp_timeout_ends_the_call_and_frees_the_position() {
    if skip() {
        return;
    }
    // psap-bye.xml sends no RTP: 2 s after the answer the provider gives up on it.
    let srv = Server::start(25560, &["--rtp-timeout", "2", "--release", "0.5"]);
    srv.sipp(
        "psap-bye.xml",
        "valid.csv",
        25570,
        &["-key", "sink", "25590"],
    );
    let recs = srv.stop();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(s(r, "ended_by"), "RTP timeout", "{r:#}");
    assert_eq!(r["media"]["timed_out"], true);
    assert_eq!(r["media"]["packets_in"], 0);
    let t = &r["tandem"];
    let answered = t["answered_ms"].as_f64().unwrap();
    let released = t["released_ms"].as_f64().unwrap();
    // The trunk released about 2 s after the answer; the attendant hung up 0.5 s after that.
    assert!((1500.0..3500.0).contains(&(released - answered)), "{t:#}");
    let pos = t["position_released_ms"]
        .as_f64()
        .expect("the position freed");
    assert!((pos - released - 500.0).abs() < 600.0, "{t:#}");
}
