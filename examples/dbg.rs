use e911_tandem::generate::synth::*;
use e911_tandem::register::mf::*;
use e911_tandem::dsp::g711::Law;
fn main() {
    let variants: Vec<(&str, Box<dyn Fn(&mut e911_tandem::register::tone_pair::PairDesign)>)> = vec![
        ("base", Box::new(|_d| {})),
        ("no resid3", Box::new(|d| d.residual_third_db = None)),
        ("resid3 8", Box::new(|d| d.residual_third_db = Some(8.0))),
        ("no third", Box::new(|d| d.third_tone_db = None)),
        ("fit loose", Box::new(|d| d.fit_ratio = 100.0)),
        ("share 0", Box::new(|d| d.pair_share = 0.0)),
        ("freq loose", Box::new(|d| d.freq_tol = 0.2)),
        ("fitnoise 3", Box::new(|d| d.fit_noise = 3.0)),
        ("release 12", Box::new(|d| d.release_frames = 12)),
        ("release 12 no resid3", Box::new(|d| { d.release_frames = 12; d.residual_third_db = None })),
        ("release 16", Box::new(|d| d.release_frames = 16)),
    ];
    for (name, f) in variants {
        let mut d = mf_design(); f(&mut d);
        let mut ok = [0; 2]; let mut n = 0;
        for sig in MfSignal::ALL { for rep in 0..10u64 {
            n += 1;
            for (k, noise) in [-9.0, -7.0].iter().enumerate() {
                let mut ch = ChannelSynth::new(rep * 7 + k as u64);
                ch.silence(40.0 + rep as f64 * 0.125);
                ch.mf(&[sig], &MfParams::default()); ch.silence(50.0);
                let (x, _) = ch.finish(&Impairments { noise_dbm0: Some(*noise), g711: Some(Law::Ulaw), ..Default::default() });
                let mut rx = MfReceiver::with_design(d.clone());
                let mut got = vec![]; rx.process(&x, &mut |e| if e.on { got.push(e.signal) });
                if got == vec![sig] { ok[k] += 1; }
            }
        }}
        println!("{name}: noise -9/-7 {:?} of {n}", ok);
    }
}
