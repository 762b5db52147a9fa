#!/usr/bin/env bash
# Regenerates the talk-off corpus (speech and music, 8 kHz μ-law WAV). Needs espeak-ng and sox
# (Debian packages). Output is deterministic for a given espeak-ng/sox version; the committed
# files were made with espeak-ng 1.51 and SoX 14.4.2 on Debian 12.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
text="$tmp/text.txt"
cat > "$text" <<'TXT'
Nine one one, what is the address of your emergency? There is a fire in the kitchen of the house
at four hundred and twelve Maple Street, and my father is still inside. Please send the fire
department and an ambulance right away. Is anyone hurt? He fell down the stairs, he is breathing
but he will not wake up. Stay on the line with me, help is on the way. The caller reports smoke
coming from the second floor window and a strong smell of gas in the basement. Can you tell me
your callback number in case we get disconnected? My number is nine one nine, five five five,
one two three four. Do not go back into the building. The police are three minutes away and the
engine company from station seven has been dispatched. Weather tonight: heavy rain, winds from
the northwest at twenty five miles per hour, temperatures falling to near freezing by morning.
Ladies and gentlemen, the train now arriving on platform two is the eight fifteen express service
to Raleigh, calling at Cary, Apex and Durham. Please mind the gap between the train and the platform.
Operator, I would like to place a collect call to Chicago. One moment please, I will connect you.
The quick brown fox jumps over the lazy dog while the seven silver swans swim slowly south.
Sally sells seashells by the seashore, and she shouts and sings and whistles all day long.
Ooh, aah, eee, ohh, mmm, hmm, yes, yes, no, no, okay, alright, hello, hello, can you hear me now?
TXT
i=0
for voice in en-us en-gb en-us+f3 en-gb-scotland en-029 en-us+m7 en-gb-x-rp en-us+f5; do
  i=$((i+1))
  speed=$((130 + (i * 13) % 70))
  espeak-ng -v "$voice" -s "$speed" -p $((30 + (i * 7) % 50)) -w "$tmp/s$i.wav" -f "$text"
done
# Levels: about −14, −20 and −26 dBm0 average speech, and a hot talker at −8 (peaks near clipping).
gains=(-3 -9 -15 0 -6 -12 -18 -4)
parts=()
for n in $(seq 1 $i); do
  g=${gains[$((n-1))]}
  # 40 s of each voice, from a different place in the text.
  sox "$tmp/s$n.wav" -r 8000 -c 1 -b 16 "$tmp/p$n.wav" trim $(( (n * 11) % 60 )) 40 norm "$g"
  parts+=("$tmp/p$n.wav")
done
sox "${parts[@]}" -e mu-law -b 8 -r 8000 -c 1 speech.wav
# Music: chords of three or more notes with harmonics (plucked strings, triangle and square
# waves, vibrato, tremolo) and glides across the MF/DTMF band under a triad, 1–2 s each. Pure
# two-sine dyads and pure-sine glides are left out on purpose: two steady sines that land within ±2.5 % of a signal's
# pair *are* that signal to any receiver (signalling.md §6 notes A5+E6 ≈ MF 5), not talk-off.
m=()
notes=(C4 E4 G4 A4 C5 E5 G5 A5 D5 F5 B4 D6 E6 A3)
k=0
for a in 0 1 2 3 4 5 6 7 8 9 10 11; do
  for b in 3 4 5 7; do
    k=$((k+1))
    n1=${notes[$(( (a) % 14 ))]}; n2=${notes[$(( (a+b) % 14 ))]}; n3=${notes[$(( (a+2*b) % 14 ))]}
    case $((k % 4)) in
      0) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.2 pluck "$n1" pluck "$n2" pluck "$n3" remix - norm -6 ;;
      1) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.5 triangle "$n1" square "$n2" triangle "$n3" remix - fade 0.05 1.5 0.2 lowpass 3000 norm -10 ;;
      2) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 2 triangle "$n1" pluck "$n2" sawtooth "$n3" remix - tremolo 5 40 lowpass 3000 norm -12 ;;
      3) sox -n -r 8000 -c 1 -b 16 "$tmp/m$k.wav" synth 1.0 sawtooth 600-1800 pluck "$n2" pluck "$n3" remix - lowpass 3000 norm -8 ;;
    esac
    m+=("$tmp/m$k.wav")
  done
done
sox "${m[@]}" -e mu-law -b 8 -r 8000 -c 1 music.wav
soxi -D speech.wav music.wav
