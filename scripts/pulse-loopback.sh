#!/usr/bin/env bash
# Runs a command with a working "sound card" on a machine that has none: a private PulseAudio
# daemon whose null sink "loop" is the default output and whose monitor is the default input, so
# whatever is played comes back on the input. cpal's ALSA host reaches it through the ALSA "pulse"
# plugin; cpal's own "pulseaudio" host (cargo feature) talks to it directly.
#
#   pulse-loopback.sh COMMAND [ARGS...]
#
# Adapted from the workplace's tested loopback recipes (Debian 12 as root, no /dev/snd). The sink
# runs at 8 kHz, so an 8 kHz client is not resampled by the server; the latency is decided by the
# client (docs/live.md: the device-buffer ladder, float stereo frames, a ring primed with the
# device buffer plus one block). Tests add their own null sinks with `pactl load-module` (the
# two-process "wire" tests).
# Pitfalls it already handles: private XDG_RUNTIME_DIR/HOME (no state carried between runs, no
# clash with other users of the machine); a minimal daemon script (Debian's default.pa gave bursts of
# ALSA I/O errors); norewinds=1 on the null sink (without it the first ~20 ms of each playback is
# lost); daemon started in the foreground with & so its pid is known and it can be stopped.
set -euo pipefail
PKGS="libasound2-dev pkg-config pulseaudio pulseaudio-utils libasound2-plugins"
MISSING=$(for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$MISSING" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING >/dev/null
fi
RUN=$(mktemp -d /tmp/pulse-loop.XXXXXX); chmod 700 "$RUN"; PA_PID=
cleanup() { if [ -n "$PA_PID" ]; then kill "$PA_PID" 2>/dev/null || true; wait "$PA_PID" 2>/dev/null || true; fi; rm -rf "$RUN"; }
trap cleanup EXIT
cat > "$RUN/loop.pa" <<PA
load-module module-native-protocol-unix auth-anonymous=1 socket=$RUN/native
load-module module-null-sink sink_name=loop rate=8000 channels=2 norewinds=1
set-default-sink loop
set-default-source loop.monitor
PA
printf 'pcm.!default { type pulse }\nctl.!default { type pulse }\n' > "$RUN/asound.conf"
export XDG_RUNTIME_DIR="$RUN" PULSE_SERVER="unix:$RUN/native"
export ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$RUN/asound.conf"
# PULSE_LATENCY_MSEC would override the plugin's buffer attributes (measured: with it set, the
# output stream never got a callback); the client chooses its buffer.
unset PULSE_LATENCY_MSEC
HOME="$RUN" pulseaudio -n -F "$RUN/loop.pa" --daemonize=no --exit-idle-time=-1 --disallow-exit \
  --use-pid-file=no --realtime=no --high-priority=yes --log-target=file:"$RUN/pa.log" &
PA_PID=$!
for _ in $(seq 200); do pactl info >/dev/null 2>&1 && break; sleep 0.05; done
pactl info >/dev/null
"$@"
