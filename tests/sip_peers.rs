//! `e911 sip serve` with a real phone and a real proxy: baresip 1.0 (Debian `baresip-core`) as a
//! headless phone scripted over its `ctrl_tcp` socket, dialling the provider directly and through
//! Kamailio 5.6 (Debian `kamailio`) as the enterprise SBC (tests/sip_peers/kamailio-sbc.cfg), which
//! record-routes and adds the caller's PIDF-LO. What is measured comes from the peers: the
//! provider's records, baresip's own recording of what it heard (the PSAP attendant's 440 Hz), the
//! PSAP leg's recording read by `e911 detect` (the phone's RFC 4733 key as DTMF), baresip's events
//! (ringing, established, closed). scripts/test installs both; E911_SKIP_PEERS=1 skips.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sip::{amplitude, s, tone_windows, wav, Server};

pub fn skip() -> bool {
    if std::env::var("E911_SKIP_PEERS").as_deref() == Ok("1") {
        eprintln!("baresip/Kamailio tests skipped (E911_SKIP_PEERS=1)");
        return true;
    }
    for (bin, flag, pkg) in [
        ("baresip", "-h", "baresip-core"),
        ("kamailio", "-v", "kamailio"),
    ] {
        assert!(
            Command::new(bin)
                .arg(flag)
                .stdin(Stdio::null())
                .output()
                .is_ok(),
            "{bin} is not installed (apt-get install {pkg}; scripts/test does it), or set E911_SKIP_PEERS=1"
        );
    }
    false
}

/// A baresip phone: its own config directory, SIP port, control socket and RTP range; it plays
/// a 1004 Hz tone as its microphone and records what it sends and hears (module `sndfile`).
struct Phone {
    child: Child,
    ctl: TcpStream,
    dir: PathBuf,
    buf: Vec<u8>,
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Phone {
    fn start(name: &str, sip: u16, ctl: u16, rtp: u16) -> Phone {
        let dir = std::env::temp_dir().join(format!("e911-baresip-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rec")).unwrap();
        // The microphone: 30 s of 1004 Hz at −10 dBFS (longer than any call here).
        let mic = dir.join("mic.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&mic, spec).unwrap();
        for n in 0..8000 * 30 {
            let v = 10362.0 * (std::f64::consts::TAU * 1004.0 * n as f64 / 8000.0).sin();
            w.write_sample(v as i16).unwrap();
        }
        w.finalize().unwrap();
        let config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\ncall_local_timeout 120\n\
             call_max_calls 4\naudio_player alsa,null\naudio_alert alsa,null\n\
             audio_source aufile,{mic}\nausrc_format s16\nauplay_format s16\n\
             rtp_ports {rtp}-{}\njitter_buffer_delay 5-10\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule alsa.so\n\
             module aufile.so\nmodule sndfile.so\nsnd_path {rec}\nmodule_tmp account.so\n\
             module_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctl}\n",
            rtp + 99,
            mic = mic.display(),
            rec = dir.join("rec").display(),
        );
        std::fs::write(dir.join("config"), config).unwrap();
        // No REGISTER; the callback number is the user part of From.
        std::fs::write(
            dir.join("accounts"),
            "<sip:9195550188@127.0.0.1>;regint=0;answermode=manual;audio_codecs=PCMU,PCMA\n",
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .arg("-s")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip runs");
        let t = Instant::now();
        let ctl = loop {
            match TcpStream::connect(("127.0.0.1", ctl)) {
                Ok(c) => break c,
                Err(_) if t.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("baresip's control socket {ctl}: {e}"),
            }
        };
        ctl.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Phone {
            child,
            ctl,
            dir,
            buf: Vec::new(),
        }
    }

    /// A command (`dial`, `hangup`, `hold`, `resume`, `sndcode`) as a netstring of JSON.
    fn cmd(&mut self, command: &str, params: &str) {
        let j = serde_json::json!({"command": command, "params": params, "token": command});
        let b = j.to_string();
        write!(self.ctl, "{}:{b},", b.len()).unwrap();
    }

    /// Wait for event `kind` (`CALL_RINGING`, `CALL_ESTABLISHED`, `CALL_CLOSED`); its JSON.
    fn wait(&mut self, kind: &str, within: Duration) -> serde_json::Value {
        let t = Instant::now();
        loop {
            while let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let Ok(n) = std::str::from_utf8(&self.buf[..colon])
                    .unwrap_or("x")
                    .parse::<usize>()
                else {
                    panic!(
                        "baresip: not a netstring: {:?}",
                        String::from_utf8_lossy(&self.buf)
                    );
                };
                if self.buf.len() < colon + 1 + n + 1 {
                    break;
                }
                let msg: serde_json::Value =
                    serde_json::from_slice(&self.buf[colon + 1..colon + 1 + n]).unwrap();
                self.buf.drain(..colon + 1 + n + 1);
                if msg["type"] == kind {
                    return msg;
                }
            }
            assert!(
                t.elapsed() < within,
                "baresip: no {kind} within {within:?}; its log: {}",
                std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
            );
            let mut b = [0u8; 4096];
            match self.ctl.read(&mut b) {
                Ok(0) => panic!("baresip closed its control socket"),
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
                Err(_) => {}
            }
        }
    }

    /// What the phone heard (its longest `*-dec.wav`: hold and resume restart the recording).
    fn heard(&self) -> Vec<f64> {
        let mut best: Vec<f64> = Vec::new();
        for e in std::fs::read_dir(self.dir.join("rec")).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with("-dec.wav") {
                let x = wav(&p);
                if x.len() > best.len() {
                    best = x;
                }
            }
        }
        best
    }
}

pub fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// DTMF keys `e911 detect` finds in a recording.
fn keys_in(p: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_e911"))
        .args(["detect", "--kinds", "dtmf", "--format", "jsonl"])
        .arg(p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["signal"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The PSAP attendant's voice (`--psap-voice tone 440 -20`) in what the phone heard, in
/// 100 ms windows; and the caller's 1004 Hz on the PSAP leg.
fn both_ways(phone: &Phone, out: &Path, call: u64) {
    let heard = phone.heard();
    let (n, a) = tone_windows(&heard, 440.0);
    println!("baresip heard 440 Hz in {n} windows, amplitude {a:.0}");
    assert!(n >= 10, "440 Hz in {n} windows of what baresip heard");
    // −20 dBm0, 0 dBm0 being 3.17 dB under G.711's full-scale sine (32,636): a peak of 2,270;
    // ±2 dB for the phone's jitter buffer and concealment.
    assert!((1_800.0..2_860.0).contains(&a), "440 Hz amplitude {a}");
    let leg = wav(&out.join(format!("call-{call}-psap.wav")));
    let (n, a1004) = tone_windows(&leg, 1004.0);
    println!("the PSAP leg: 1004 Hz in {n} windows, amplitude {a1004:.0}");
    assert!(
        n >= 10,
        "the caller's 1004 Hz in {n} windows of the PSAP leg"
    );
    assert!(amplitude(&leg, 1004.0) > 100.0);
}

#[test]
fn baresip_dials_the_provider_holds_resumes_keys_and_either_side_hangs_up() {
    if skip() {
        return;
    }
    let reg = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sip_fixtures/registered.csv"
    );
    // The attendant hangs up 8 s after answering (the second call).
    let srv = Server::start(31060, &["--wav", "--registered", reg, "--hold", "8"]);
    let mut phone = Phone::start("direct", 31500, 31444, 31600);
    phone.cmd("dial", "sip:911@127.0.0.1:31060");
    phone.wait("CALL_RINGING", Duration::from_secs(10));
    phone.wait("CALL_ESTABLISHED", Duration::from_secs(10));
    sleep(1500);
    phone.cmd("sndcode", "5");
    sleep(1000);
    phone.cmd("hold", "");
    sleep(1000);
    phone.cmd("resume", "");
    sleep(1500);
    phone.cmd("hangup", "");
    phone.wait("CALL_CLOSED", Duration::from_secs(5));
    sleep(500);
    // A second call the PSAP hangs up: the provider's BYE reaches the phone.
    phone.cmd("dial", "sip:911@127.0.0.1:31060");
    phone.wait("CALL_ESTABLISHED", Duration::from_secs(10));
    phone.wait("CALL_CLOSED", Duration::from_secs(12));
    sleep(300);
    let out = srv.out.clone();
    let mut recs = srv.stop();
    recs.sort_by_key(|r| r["call"].as_u64());
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(s(&recs[1], "ended_by"), "PSAP BYE", "{}", recs[1]);
    assert_eq!(s(&recs[1], "psap"), "CARYPOLICE");
    let r = &recs[0];
    // No PIDF-LO from a plain phone: the address registered for its callback number.
    assert_eq!(s(r, "kind"), "psap", "{r}");
    assert_eq!(s(r, "location_by"), "registered for 919-555-0188");
    assert_eq!(s(r, "address"), "123 MAIN ST, CARY NC");
    assert_eq!(r["esn"], 123);
    assert!(s(r, "esqk").starts_with("919-211-00"), "{r}");
    assert_eq!(s(r, "psap"), "CARYPOLICE");
    assert_eq!(s(r, "ended_by"), "caller BYE");
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("held by the caller") && notes.contains("resumed by the caller"),
        "{notes}"
    );
    // The key: an RFC 4733 event from the phone, DTMF at the PSAP position.
    assert_eq!(r["media"]["keys"], "5", "{r}");
    assert_eq!(keys_in(&out.join("call-1-psap.wav")), "5");
    both_ways(&phone, &out, 1);
}

/// Kamailio on 31170 in front of the provider on 31160.
/// A Kamailio 5.6 in the foreground in its own runtime directory and process group (stopped,
/// workers and all, when dropped).
pub struct Kamailio {
    child: Child,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // Kamailio forks its workers into its own process group (`process_group(0)` below): the
        // whole group is stopped, so no worker outlives the test holding its port.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            sleep(50);
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Kamailio {
    /// Kamailio with `tests/sip_peers/CFG` on UDP `listen`, each of `defines` given as `-A`;
    /// returns it once it listens, and the path of its log.
    pub fn start(cfg: &str, listen: u16, defines: &[String]) -> (Kamailio, PathBuf) {
        let run =
            std::env::temp_dir().join(format!("e911-kamailio-{listen}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).unwrap();
        let log = run.join("kamailio.log");
        let f = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new("kamailio");
        cmd.arg("-f")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/sip_peers")
                    .join(cfg),
            )
            .args(["-DD", "-E", "-Y"])
            .arg(&run)
            .arg("-P")
            .arg(run.join("pid"))
            .args(["-l", &format!("udp:127.0.0.1:{listen}")]);
        for d in defines {
            cmd.args(["-A", d]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .process_group(0)
            .spawn()
            .expect("kamailio runs");
        let k = Kamailio { child };
        // Listening once its log says so.
        let t = Instant::now();
        while !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("SO_RCVBUF is finally")
        {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "kamailio did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            sleep(50);
        }
        sleep(300);
        (k, log)
    }
}

/// Kamailio as the enterprise SBC in front of the provider at `upstream`.
struct Sbc;

impl Sbc {
    fn start(listen: u16, upstream: u16) -> (Kamailio, PathBuf) {
        Kamailio::start(
            "kamailio-sbc.cfg",
            listen,
            &[format!("UPSTREAM=\"sip:127.0.0.1:{upstream}\"")],
        )
    }
}

#[test]
fn baresip_through_kamailio_is_located_by_the_sbc_cancelled_while_ringing_and_released_by_the_psap()
{
    if skip() {
        return;
    }
    // The attendant answers 3 s after the spill and hangs up 5 s after answering.
    let srv = Server::start(31160, &["--wav", "--answer", "3", "--hold", "5"]);
    let (_sbc, log) = Sbc::start(31170, 31160);
    let mut phone = Phone::start("sbc", 31510, 31454, 31700);
    // A call cancelled while it rings at the PSAP (RFC 3261 §9: CANCEL through the proxy).
    phone.cmd("dial", "sip:911@127.0.0.1:31170");
    phone.wait("CALL_RINGING", Duration::from_secs(10));
    sleep(500);
    phone.cmd("hangup", "");
    phone.wait("CALL_CLOSED", Duration::from_secs(5));
    sleep(500);
    // A call the PSAP answers, hears a key on, is held and resumed (re-INVITEs through the
    // proxy), and releases: the provider's BYE goes back through Kamailio by the Record-Route set.
    phone.cmd("dial", "sip:911@127.0.0.1:31170");
    phone.wait("CALL_ESTABLISHED", Duration::from_secs(15));
    sleep(1000);
    phone.cmd("sndcode", "7");
    sleep(1000);
    phone.cmd("hold", "");
    sleep(800);
    phone.cmd("resume", "");
    let closed = phone.wait("CALL_CLOSED", Duration::from_secs(10));
    sleep(500);
    // A call the caller hangs up: its BYE through the proxy.
    phone.cmd("dial", "sip:911@127.0.0.1:31170");
    phone.wait("CALL_ESTABLISHED", Duration::from_secs(15));
    sleep(1000);
    phone.cmd("hangup", "");
    phone.wait("CALL_CLOSED", Duration::from_secs(5));
    sleep(2500);
    let out = srv.out.clone();
    let mut recs = srv.stop();
    recs.sort_by_key(|r| r["call"].as_u64());
    assert_eq!(recs.len(), 3, "{recs:?}");
    let (c, r, b) = (&recs[0], &recs[1], &recs[2]);
    assert_eq!(s(b, "ended_by"), "caller BYE", "{b}");
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("held by the caller") && notes.contains("resumed by the caller"),
        "{notes}"
    );
    for r in [c, r, b] {
        // The SBC's location, by value, named by its Geolocation header.
        assert!(
            s(r, "location_by").starts_with("Geolocation <cid:loc-"),
            "{r}"
        );
        assert!(s(r, "location_by").ends_with("@sbc.example>"), "{r}");
        assert_eq!(s(r, "address"), "1 SALEM ST N, APEX NC");
        assert_eq!(s(r, "label"), "Branch office, front desk");
        assert_eq!(r["esn"], 200);
        assert_eq!(s(r, "psap"), "APEXPOLICE");
        assert!(s(r, "esqk").starts_with("919-211-"), "{r}");
    }
    assert_eq!(s(c, "ended_by"), "CANCEL", "{c}");
    assert!(
        c["abandoned_ms"].as_f64().is_some() && c["answered_ms"].is_null(),
        "{c}"
    );
    assert_eq!(s(r, "ended_by"), "PSAP BYE", "{r}");
    assert_eq!(r["media"]["keys"], "7", "{r}");
    assert_eq!(
        keys_in(&out.join(format!("call-{}-psap.wav", r["call"]))),
        "7"
    );
    both_ways(&phone, &out, r["call"].as_u64().unwrap());
    // baresip saw the provider's BYE, and it came through the proxy (the Record-Route set),
    // as did the ACKs.
    assert!(closed.to_string().contains("CALL_CLOSED"));
    let k = std::fs::read_to_string(&log).unwrap();
    assert_eq!(k.matches("located ").count(), 3, "{k}");
    assert!(
        k.contains("in-dialog INVITE"),
        "the re-INVITEs through the proxy: {k}"
    );
    assert!(k.contains("in-dialog BYE"), "{k}");
    assert!(k.contains("in-dialog ACK"), "{k}");
}
