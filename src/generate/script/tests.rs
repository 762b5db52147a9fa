//! Scripts render with their truth; errors name the script and line.

use super::*;

#[test]
fn a_two_channel_script_renders_with_truth() {
    let s = "channels 2\nsilence 100\nmf KP 0 5551234 ST\nchannel 1\nat 50\ndtmf *11 # transfer to fire\n";
    let r = render("t", s).unwrap();
    assert_eq!(r.channels.len(), 2);
    assert_eq!(r.truth[0].len(), 10);
    assert_eq!(r.truth[0][0].start, 800);
    assert_eq!(r.truth[1].len(), 3);
    assert_eq!(r.truth[1][0].signal, "*");
    assert_eq!(r.channels[0].len(), r.channels[1].len());
}

#[test]
fn hash_is_a_signal_in_mf_and_dtmf_but_a_comment_elsewhere() {
    let r = render("t", "dtmf 1#\nmf KP 5 #\nsilence 10 # pause\n").unwrap();
    let sigs: Vec<&str> = r.truth[0].iter().map(|t| t.signal.as_str()).collect();
    assert_eq!(sigs, ["1", "#", "KP", "5", "ST"]);
}

#[test]
fn errors_name_script_and_line() {
    let e = render("s.txt", "silence 10\nmf KP X\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("s.txt:2:"), "{e}");
    let e = render("s.txt", "dtmf 1 loud=3\n").unwrap_err().to_string();
    assert!(e.contains("s.txt:1:") && e.contains("loud"), "{e}");
    let e = render("s.txt", "frobnicate\n").unwrap_err().to_string();
    assert!(e.contains("unknown command"), "{e}");
    let e = render("s.txt", "channels 1\nchannel 3\nsilence 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("channel 3"), "{e}");
}
