//! `e911 sip serve`: the SIP-trunk E9-1-1 provider and the selective router, in real time, on
//! real sockets (docs/sip.md). With no `--datafill`: the embedded Cary, NC office and its MSAG,
//! with the provider's ESGW trunk group VPCESGW.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Format;
use crate::sim::scenario::{Attendant, Scenario};
use crate::sip::record::SipRecord;
use crate::sip::{server, Serve};

#[derive(Subcommand, Debug)]
pub enum SipCmd {
    /// Be the E9-1-1 service provider a PBX, SBC or Lync/Teams trunk points at: INVITEs to 911,
    /// +911 or urn:service:sos with PIDF-LO are validated against the MSAG and delivered with an
    /// ESQK over the ESGW trunk group to the PSAP of their ESN (PSAPs modelled as in
    /// `simulate`); no or bad location → the ECRC; 933 → a test call the provider answers.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Office datafill (file or directory). Default: the embedded Cary, NC office.
    #[arg(long)]
    pub datafill: Option<PathBuf>,
    /// The MSAG the provider validates locations against (needed with --datafill).
    #[arg(long)]
    pub msag: Option<PathBuf>,
    /// ALI records (NENA 02-010) for the PSAP models' other calls.
    #[arg(long)]
    pub ali: Option<PathBuf>,
    /// Registered locations: CSV of callback number → civic address (header `TN,HNO,RD,STS,A3,A1,…`);
    /// an INVITE with no location is routed by its callback number's address. Checked against the MSAG at start
    #[arg(long)]
    pub registered: Option<PathBuf>,
    /// The provider's ESGW trunk group into the tandem (TRKGRP key; default VPCESGW with the
    /// embedded office).
    #[arg(long)]
    pub esgw: Option<String>,
    /// ESGW trunks (the most calls up at once; more wait for a trunk).
    #[arg(long, default_value_t = 24)]
    pub trunks: usize,
    /// NPA of the ESQKs (NPA-211-BBKK; default the ESGW group's NPA).
    #[arg(long)]
    pub esqk_npa: Option<u16>,
    /// ESQKs per ESN (1–100); a key is held for its call's duration.
    #[arg(long, default_value_t = 100)]
    pub esqk_per_esn: u32,
    /// Where to listen, UDP and TCP.
    #[arg(long, default_value = "127.0.0.1:5060")]
    pub listen: SocketAddr,
    /// The address RTP is bound to and named in SDP (default: the --listen address).
    #[arg(long)]
    pub media_ip: Option<IpAddr>,
    /// RTP ports, `LO-HI` (an even port for RTP, the next for RTCP; for a firewall's rule).
    /// Default: any free pair.
    #[arg(long, value_parser = rtp_ports)]
    pub rtp_ports: Option<crate::sip::media::Ports>,
    /// The ECRC's name in the records.
    #[arg(long, default_value = "ECRC")]
    pub ecrc: String,
    /// An answered call with no RTP for this long is ended (BYE), seconds.
    #[arg(long, default_value_t = 30.0)]
    pub rtp_timeout: f64,
    /// The modelled PSAP attendant answers this long after the ANI spill, seconds.
    #[arg(long, default_value_t = 0.5)]
    pub answer: f64,
    /// …and hangs up this long after answering (a BYE to the caller), seconds.
    #[arg(long, default_value_t = 600.0)]
    pub hold: f64,
    /// …or this long after the caller has gone (the tandem leaves release to the PSAP), seconds.
    #[arg(long, default_value_t = 2.0)]
    pub release: f64,
    /// What the modelled PSAP attendant (and the ECRC's, and the 933 service) says once
    /// answered, sent back to the caller in RTP: `tone HZ DBM0`, or `none`.
    #[arg(long, default_value = "tone 440 -20")]
    pub psap_voice: String,
    /// Stop after this long (default: until SIGINT, SIGTERM or SIGHUP), seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// TCP: a connection with no message in progress is closed after this long, seconds (a
    /// PBX's persistent trunk connection sends CRLF keep-alives well within it).
    #[arg(long, default_value_t = 900.0)]
    pub tcp_idle: f64,
    /// TCP: a message (and a new connection's first message) must be complete within this long
    /// of its first byte, seconds (64 × T1).
    #[arg(long, default_value_t = 32.0)]
    pub tcp_incomplete: f64,
    /// TCP: the most connections open at once.
    #[arg(long, default_value_t = 1024)]
    pub tcp_max: usize,
    /// TCP: the most connections open from one IP address.
    #[arg(long, default_value_t = 64)]
    pub tcp_per_peer: usize,
    /// RFC 4028: the shortest session interval taken (a caller's shorter Session-Expires is
    /// answered with this), seconds.
    #[arg(long, default_value_t = 90)]
    pub session_min: u32,
    /// The most emergency calls up at once (ringing, queued or talking); more get `503` with
    /// Retry-After, and a record.
    #[arg(long, default_value_t = 2000)]
    pub max_calls: usize,
    /// On stopping, the longest to wait for calls up to be released (BYE, 480) before each is
    /// recorded as `shutdown (forced)`, seconds.
    #[arg(long, default_value_t = 8.0)]
    pub drain: f64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write `calls.jsonl` here as calls end.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With --out: also each PSAP call's PSAP-leg audio, `call-N-psap.wav` (what the position
    /// heard from its delivery to the caller's hang-up).
    #[arg(long, requires = "out")]
    pub wav: bool,
    /// Overwrite outputs that exist (never an input).
    #[arg(long)]
    pub force: bool,
}

fn rtp_ports(v: &str) -> Result<crate::sip::media::Ports, String> {
    let (lo, hi) = v
        .split_once('-')
        .ok_or_else(|| format!("`{v}`: give LO-HI, e.g. 16384-16483"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{p}` is not a port (1–65535)"))
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo < 1024 || hi == u16::MAX || hi < lo + 1 + lo % 2 {
        return Err(format!(
            "{lo}-{hi}: give at least one even/odd pair from 1024 to 65534"
        ));
    }
    Ok(crate::sip::media::Ports { lo, hi })
}

fn count(what: &str, v: usize, lo: usize, hi: usize) -> anyhow::Result<usize> {
    if !(lo..=hi).contains(&v) {
        super::usage!("{what}: {v} is outside {lo} … {hi}");
    }
    Ok(v)
}

fn secs(what: &str, v: f64, lo: f64, hi: f64) -> anyhow::Result<Duration> {
    if !(lo..=hi).contains(&v) {
        super::usage!("{what}: {v} s is outside {lo} … {hi}");
    }
    Ok(Duration::from_secs_f64(v))
}

pub fn run(cmd: SipCmd) -> anyhow::Result<()> {
    match cmd {
        SipCmd::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let super::office_data::OfficeData {
        office,
        msag,
        mut inputs,
        embedded,
        ..
    } = super::office_data::load(
        a.datafill.as_deref(),
        a.msag.as_deref(),
        "the provider validates locations against it",
    )?;
    let esgw_default = embedded.then(|| "VPCESGW".to_string());
    let ali = match &a.ali {
        Some(p) => {
            inputs.push(p.clone());
            let t =
                std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            let (ali, errors) = crate::location::ali::Ali::parse(&t);
            if let Some(e) = errors.first() {
                anyhow::bail!("{}:{e}", p.display());
            }
            ali
        }
        None => Default::default(),
    };
    let esgw = match a.esgw.clone().or(esgw_default) {
        Some(k) => k.to_ascii_uppercase(),
        None => anyhow::bail!("--esgw: name the provider's ESGW trunk group (a TRKGRP key)"),
    };
    let tg = office
        .trunk_groups
        .get(&esgw)
        .ok_or_else(|| anyhow::anyhow!("--esgw: {esgw} is not in TRKGRP"))?;
    if tg.supv != crate::tandem::tables::Supv::Sf || tg.sig != crate::tandem::tables::Sig::Mf {
        anyhow::bail!("--esgw: {esgw} must be an MF group with SF supervision (the provider outpulses the ESQK in MF)");
    }
    if !(1..=2000).contains(&a.trunks) {
        super::usage!("--trunks: {} is outside 1 … 2000", a.trunks);
    }
    let npa = a.esqk_npa.unwrap_or(tg.npa);
    if !(200..=999).contains(&npa) {
        super::usage!("--esqk-npa: {npa} is not an NPA (200–999)");
    }
    if office.npd_of(npa).is_none() {
        anyhow::bail!(
            "--esqk-npa: {npa} has no NPD in E911NPD (the PSAPs could not decode the ESQK)"
        );
    }
    if !(1..=100).contains(&a.esqk_per_esn) {
        super::usage!("--esqk-per-esn: {} is outside 1 … 100", a.esqk_per_esn);
    }
    if office.esns.len() > 100 {
        anyhow::bail!(
            "{} ESNs, but the ESQK blocks (NPA-211-BBKK) cover 100",
            office.esns.len()
        );
    }
    let media_ip = a.media_ip.unwrap_or(a.listen.ip());
    if media_ip.is_unspecified() {
        super::usage!(
            "--media-ip: --listen {} names no address the caller can send RTP to; give one",
            a.listen
        );
    }
    if let Some(s) = a.seconds {
        secs("--seconds", s, 0.1, 1e9)?;
    }
    let voice = match a.psap_voice.trim() {
        "none" => None,
        v => Some(
            crate::sim::scenario::parse_voice(v)
                .map_err(|e| super::Usage(format!("--psap-voice: {e}")))?,
        ),
    };
    let attendant = Attendant {
        voice: voice.clone(),
        answer_ms: secs("--answer", a.answer, 0.0, 600.0)?.as_secs_f64() * 1000.0,
        hold_ms: secs("--hold", a.hold, 0.5, 86_400.0)?.as_secs_f64() * 1000.0,
        ..Attendant::default()
    };
    let cfg = server::Config {
        media_ip,
        rtp_timeout: secs("--rtp-timeout", a.rtp_timeout, 0.5, 3600.0)?,
        rtp_ports: a.rtp_ports,
        rtp_rules: crate::sip::rtp_source::Rules::default(),
        max_calls: count("--max-calls", a.max_calls, 1, 100_000)?,
        session_min: count("--session-min", a.session_min as usize, 1, 86_400)? as u32,
        ecrc: a.ecrc.clone(),
        ecrc_answer: Duration::from_millis(1000),
        test_hold: Duration::from_secs(5),
        voice: voice
            .as_ref()
            .map(|crate::sim::scenario::Voice::Tone { hz, dbm0 }| (*hz, *dbm0)),
    };
    // Registered locations, checked before any output is made.
    let registered = match &a.registered {
        Some(p) => {
            inputs.push(p.clone());
            registered(p, &msag, &office)?
        }
        None => Default::default(),
    };
    // Outputs.
    let mut jsonl = None;
    if let Some(dir) = &a.out {
        super::outputs::check_dir(dir)?;
        let f = dir.join("calls.jsonl");
        super::outputs::check("--out", std::slice::from_ref(&f), &inputs, a.force)?;
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        jsonl = Some(std::io::BufWriter::new(
            std::fs::File::create(&f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?,
        ));
    }
    let sc = Scenario {
        name: "sip serve".into(),
        office: office.clone(),
        ali,
        trunks: vec![(esgw.clone(), a.trunks)],
        attendant,
        calls: Vec::new(),
        duration: u64::MAX,
        notes: Vec::new(),
        warnings: Vec::new(),
        inputs: inputs.clone(),
    };
    let serve = Serve {
        registered,
        sc,
        msag,
        esgw: esgw.clone(),
        npa,
        esqk_per_esn: a.esqk_per_esn,
        listen: a.listen,
        cfg,
        seconds: a.seconds,
        stop: super::interrupt::flag(),
        forced: super::interrupt::forced(),
        drain: secs("--drain", a.drain, 0.0, 600.0)?,
        tcp: crate::sip::tcp::Limits {
            idle: secs("--tcp-idle", a.tcp_idle, 1.0, 86_400.0)?,
            incomplete: secs("--tcp-incomplete", a.tcp_incomplete, 0.5, 600.0)?,
            max: count("--tcp-max", a.tcp_max, 1, 100_000)?,
            per_peer: count("--tcp-per-peer", a.tcp_per_peer, 1, 100_000)?,
        },
        keep_audio: a.wav,
        psap_release_ms: secs("--release", a.release, 0.0, 3600.0)?.as_secs_f64() * 1000.0,
    };
    let format = a.format;
    let mut count = 0usize;
    let mut failed: Option<anyhow::Error> = None;
    let out = a.out.clone();
    let force = a.force;
    let mut on_record = |r: SipRecord| {
        count += 1;
        let line = serde_json::to_string(&r).expect("records serialise");
        if let Some(w) = &mut jsonl {
            if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                failed.get_or_insert(anyhow::anyhow!("calls.jsonl: {e}"));
            }
        }
        // Standard output may be gone (the terminal closed: SIGHUP): the file above still has
        // the record, and a failed write here is not a panic.
        let mut so = std::io::stdout().lock();
        let _ = match format {
            Format::Text => writeln!(so, "{}", r.text()),
            Format::Jsonl => writeln!(so, "{line}"),
        };
        let _ = so.flush();
        drop(so);
        if let (Some(dir), false) = (&out, r.psap_leg.is_empty()) {
            let p = dir.join(format!("call-{}-psap.wav", r.call));
            if let Err(e) = write_wav(&p, &r.psap_leg, &inputs, force) {
                failed.get_or_insert(e);
            }
        }
    };
    let mut on_ready = |addrs: &str| {
        eprintln!(
            "e911 provider listening on {addrs} (UDP and TCP); ESGW {esgw} × {} trunks into the tandem; RTP on {media_ip}",
            a.trunks
        );
    };
    crate::sip::serve(serve, &mut on_ready, &mut on_record)?;
    eprintln!("{count} call record(s)");
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(())
}

fn write_wav(
    p: &std::path::Path,
    v: &[i16],
    inputs: &[PathBuf],
    force: bool,
) -> anyhow::Result<()> {
    super::outputs::check("--out", &[p.to_path_buf()], inputs, force)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: crate::units::SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(p, spec).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    for &s in v {
        w.write_sample(s)
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    }
    w.finalize()
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    Ok(())
}

/// `--registered FILE`, every address checked against the MSAG (a registered address that
/// would send its calls to the ECRC is refused at start, with its line).
fn registered(
    p: &std::path::Path,
    msag: &crate::location::msag::Msag,
    office: &crate::tandem::tables::Office,
) -> anyhow::Result<crate::location::registered::Registered> {
    let t = std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    let r = crate::location::registered::Registered::parse(&t)
        .map_err(|e| anyhow::anyhow!("{}:{e}", p.display()))?;
    for (tn, pidf, line) in r.entries() {
        let c = pidf.civic_address();
        let a = c.msag_address();
        let why = match crate::location::msag::house_number(&a.house_number) {
            Err(why) => Some(format!("not in the MSAG: {why}")),
            Ok(_) => match msag.validate(&a) {
                Err(f) => Some(format!("not in the MSAG: {f}")),
                // Its ESN must be the office's, or its calls would find no ESQK pool.
                Ok(r) if !office.esns.contains_key(&r.esn) => Some(format!(
                    "its ESN {} is not in the office's E911ESN (no ESQKs for it)",
                    r.esn
                )),
                Ok(_) => None,
            },
        };
        if let Some(why) = why {
            anyhow::bail!(
                "{}:{line}: TN {tn}: {}: {why}",
                p.display(),
                crate::text::one_line(&c.one_line())
            );
        }
    }
    Ok(r)
}
