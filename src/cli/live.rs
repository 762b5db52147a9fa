//! `e911 live`: sound-card I/O (cargo feature `live`).

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum LiveCmd {
    /// Show the default input and output devices.
    Devices,
    /// Play one channel of a generate script (docs/generate.md) on the default output.
    Play {
        script: PathBuf,
        #[arg(long, default_value_t = 0)]
        channel: usize,
    },
    /// Listen on the default input and print every event with its detection latency.
    Listen {
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value = "mf,dtmf,sf,dp")]
        kinds: String,
    },
    /// Play an MF spill while listening: decode it from the input and print the round trip.
    /// With a loopback (or a cable from output to input) the spill must come back exactly.
    Loopback {
        #[arg(long, default_value = "KP 0 5551234 ST")]
        spill: String,
    },
    /// Put the sound card on trunk 0 of a trunk group of a running tandem (full duplex): the
    /// input is what the end office sends, the output what the tandem sends back. PSAPs are
    /// modelled. Prints the call records at the end.
    Trunk {
        #[arg(long)]
        datafill: PathBuf,
        #[arg(long)]
        trunk: String,
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
    },
}

#[cfg(not(feature = "live"))]
pub fn run(_: LiveCmd) -> anyhow::Result<()> {
    anyhow::bail!(
        "this e911 was built without sound-card support: build with the `live` feature \
         (needs libasound2-dev and pkg-config): cargo run --release --features live -- live …"
    )
}

#[cfg(feature = "live")]
pub fn run(cmd: LiveCmd) -> anyhow::Result<()> {
    imp::run(cmd)
}

#[cfg(feature = "live")]
mod imp {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::LiveCmd;
    use crate::detect::{ChannelDetector, Kinds};
    use crate::engine::LineSignal;
    use crate::engine::Source;
    use crate::generate::sender::{quantise, LineSender, MfTiming};
    use crate::live::Duplex;
    use crate::register::mf::MfSignal;

    const BLOCK: usize = 80;

    pub fn run(cmd: LiveCmd) -> anyhow::Result<()> {
        match cmd {
            LiveCmd::Devices => {
                print!("{}", crate::live::devices().map_err(anyhow::Error::msg)?);
                Ok(())
            }
            LiveCmd::Play { script, channel } => play(&script, channel),
            LiveCmd::Listen { seconds, kinds } => listen(seconds, &kinds),
            LiveCmd::Loopback { spill } => loopback(&spill),
            LiveCmd::Trunk {
                datafill,
                trunk,
                seconds,
            } => trunk_cmd(&datafill, &trunk, seconds),
        }
    }

    fn play(script: &std::path::Path, channel: usize) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(script)
            .map_err(|e| anyhow::anyhow!("{}: {e}", script.display()))?;
        let base = script.parent().unwrap_or(std::path::Path::new("."));
        let r = crate::files::script(
            &script.display().to_string(),
            &text,
            base,
            &crate::generate::script::Limits::default(),
        )
        .map_err(anyhow::Error::msg)?;
        let x = r.channels.get(channel).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: channel {channel}, but the script has {}",
                script.display(),
                r.channels.len()
            )
        })?;
        let mut d = Duplex::open(false, true).map_err(anyhow::Error::msg)?;
        d.start().map_err(anyhow::Error::msg)?;
        let o = d.output.as_ref().unwrap();
        eprintln!(
            "playing {:.1} s on {} ({} Hz)",
            crate::units::samples_to_s(x.len() as u64),
            o.name,
            o.rate
        );
        for c in x.chunks(BLOCK) {
            d.write(c);
        }
        while d.queued_out() > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let under = d.counters.underruns();
        std::thread::sleep(Duration::from_millis(200));
        eprintln!("underruns: {under} samples (the device buffer that plays the last samples counts its unfilled rest)");
        Ok(())
    }

    fn listen(seconds: f64, kinds: &str) -> anyhow::Result<()> {
        let kinds = Kinds::parse(kinds).map_err(anyhow::Error::msg)?;
        let mut d = Duplex::open(true, false).map_err(anyhow::Error::msg)?;
        d.start().map_err(anyhow::Error::msg)?;
        let i = d.input.as_ref().unwrap();
        eprintln!("listening on {} ({} Hz) for {seconds} s", i.name, i.rate);
        let mut det = ChannelDetector::new(0, kinds);
        let mut buf = [0i16; BLOCK];
        let blocks = (seconds * 100.0) as usize;
        let out = std::io::stdout();
        let mut o = out.lock();
        for _ in 0..blocks {
            if !d.read(&mut buf, Duration::from_secs(2)) {
                anyhow::bail!("the input stopped delivering audio");
            }
            det.process(&buf);
            for e in det.take() {
                writeln!(
                    o,
                    "{:>10.1} ms  {:<4} {:<10} {:>6.1} ms long, reported after {:.1} ms",
                    e.start_ms,
                    e.kind,
                    e.signal,
                    e.end_ms - e.start_ms,
                    e.reported_ms - e.start_ms
                )?;
            }
        }
        eprintln!(
            "overruns: {} samples, underruns: {}",
            d.counters.overruns(),
            d.counters.underruns()
        );
        Ok(())
    }

    fn loopback(spill: &str) -> anyhow::Result<()> {
        let sigs = MfSignal::parse_sequence(spill).map_err(anyhow::Error::msg)?;
        let mut d = Duplex::open(true, true).map_err(anyhow::Error::msg)?;
        // Prime the output with 300 ms (the device takes its whole buffer, ~200 ms through the
        // ALSA PulseAudio plugin, at the first callback) so it never runs dry while we pace on
        // the input.
        for _ in 0..30 {
            d.write(&[0; BLOCK]);
        }
        d.start().map_err(anyhow::Error::msg)?;
        let (ir, or) = (
            d.input.as_ref().unwrap().rate,
            d.output.as_ref().unwrap().rate,
        );
        eprintln!(
            "loopback: out {} ({or} Hz) → in {} ({ir} Hz)",
            d.output.as_ref().unwrap().name,
            d.input.as_ref().unwrap().name
        );
        // 300 ms of silence, the spill, 700 ms of silence.
        let mut tx = LineSender::new();
        let kp_at = 2400u64;
        let end = tx.mf(kp_at, &sigs, &MfTiming::default()) + 5600;
        let mut det = ChannelDetector::new(0, Kinds::parse("mf").unwrap());
        let mut inb = [0i16; BLOCK];
        let mut f = [0f32; BLOCK];
        let mut outb = [0i16; BLOCK];
        let mut t = 0u64;
        let mut emitted: Option<Instant> = None;
        let mut heard_kp: Option<(Instant, f64, f64)> = None;
        let mut got = Vec::new();
        let mut queued_ms = 0.0;
        while t < end + crate::units::SECOND {
            f.fill(0.0);
            tx.render(t, &mut f);
            quantise(&f, &mut outb);
            if (t..t + BLOCK as u64).contains(&kp_at) {
                emitted = Some(Instant::now());
                queued_ms = d.queued_out() as f64 * 1000.0 / or as f64;
            }
            d.write(&outb);
            if !d.read(&mut inb, Duration::from_secs(2)) {
                anyhow::bail!("the input stopped delivering audio");
            }
            det.process(&inb);
            for e in det.take() {
                if e.signal == "KP" && heard_kp.is_none() {
                    heard_kp = Some((Instant::now(), e.start_ms, e.reported_ms));
                }
                got.push(e.signal);
            }
            t += BLOCK as u64;
        }
        let (over, under) = (d.counters.overruns(), d.counters.underruns());
        for e in det.finish() {
            got.push(e.signal);
        }
        let want: Vec<String> = sigs.iter().map(|s| s.name().to_string()).collect();
        println!("sent:  {}", want.join(" "));
        println!("heard: {}", got.join(" "));
        if let (Some(a), Some((b, start, rep))) = (emitted, heard_kp) {
            let rt = b.duration_since(a).as_secs_f64() * 1000.0;
            println!(
                "round trip (KP written → KP reported): {rt:.1} ms = {queued_ms:.1} ms queued in our output ring + {:.1} ms device/server path + {:.1} ms detection",
                rt - queued_ms - (rep - start),
                rep - start
            );
        }
        println!(
            "overruns: {over} samples, underruns: {under} samples, callbacks: {}",
            d.counters
                .callbacks
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        if got != want {
            anyhow::bail!("the spill did not come back exactly");
        }
        Ok(())
    }

    thread_local! {
        /// cpal streams may not cross threads: the source thread opens and keeps its own.
        static DUPLEX: std::cell::RefCell<Option<Duplex>> = const { std::cell::RefCell::new(None) };
    }

    /// The sound card as trunk 0 of the group; other ports hear nothing.
    struct LiveSource {
        opened: bool,
        error: Option<String>,
        none_supv: bool,
    }

    impl Source for LiveSource {
        fn step(
            &mut self,
            now: u64,
            from_tandem: &[&[i16]],
            _notices: &[LineSignal],
            out: &mut [&mut [i16]],
            valid: &mut [usize],
            line: &mut Vec<LineSignal>,
        ) {
            // cpal streams are opened on this (the source) thread and stay on it.
            if !self.opened {
                self.opened = true;
                match Duplex::open(true, true).and_then(|d| d.start().map(|_| d)) {
                    Ok(d) => DUPLEX.with(|x| *x.borrow_mut() = Some(d)),
                    Err(e) => self.error = Some(e),
                }
            }
            for (p, o) in out.iter_mut().enumerate() {
                o.fill(0);
                valid[p] = 0;
            }
            DUPLEX.with(|x| {
                if let Some(d) = x.borrow_mut().as_mut() {
                    d.write(from_tandem[0]);
                    if d.read(out[0], Duration::from_secs(2)) {
                        valid[0] = out[0].len();
                    }
                }
            });
            if self.none_supv && now == 0 {
                line.push((0, 0, crate::engine::Lead::OffHook));
            }
        }
    }

    fn trunk_cmd(datafill: &std::path::Path, trunk: &str, seconds: f64) -> anyhow::Result<()> {
        let loaded = crate::files::datafill(datafill).map_err(anyhow::Error::msg)?;
        if let Some(e) = loaded.errors().next() {
            anyhow::bail!("{e}");
        }
        let key = trunk.to_ascii_uppercase();
        let tg = loaded
            .office
            .trunk_groups
            .get(&key)
            .ok_or_else(|| anyhow::anyhow!("--trunk: {key} is not in TRKGRP"))?;
        let tandem = crate::tandem::switch::Tandem::new(
            &loaded.office,
            &[(key.clone(), 1)],
            &Default::default(),
        )
        .map_err(anyhow::Error::msg)?;
        // Every PSAP is modelled: attendants at the far end of their out-of-band leads.
        let src = crate::sim::attendant::WithAttendants {
            inner: LiveSource {
                opened: false,
                error: None,
                none_supv: tg.supv == crate::tandem::tables::Supv::None,
            },
            attendants: crate::sim::attendant::Attendants::new(crate::units::ms_to_samples(
                crate::sim::attendant::HOLD_MS,
            ) as u64),
        };
        eprintln!("the sound card is {key} trunk 0 for {seconds} s (input: end office → tandem)");
        // Ctrl-C ends the run with the calls decided so far printed.
        let opts = crate::engine::Opts {
            stop: Some(crate::cli::interrupt::flag()),
            ..Default::default()
        };
        let (tandem, src, stats) = crate::engine::run(
            tandem,
            src,
            crate::units::s_to_samples(seconds),
            &opts,
            None,
        );
        if let Some(e) = src.inner.error {
            anyhow::bail!(e);
        }
        for r in tandem.records() {
            println!("{}", serde_json::to_string(r)?);
        }
        eprintln!(
            "{} blocks; ring latency p50 {:.0} µs",
            stats.blocks,
            crate::engine::percentile(&stats.latency_us, 50.0)
        );
        Ok(())
    }
}
