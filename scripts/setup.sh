#!/usr/bin/env bash
# Installs the system packages the MCU needs on Debian (run as root, or with sudo available).
# Idempotent: skips apt when everything is already there.
#   MCU_SETUP=runtime   only what the server and the recording worker need (the Docker image)
set -euo pipefail
runtime_only=$([ "${MCU_SETUP:-}" = runtime ] && echo 1 || echo 0)
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# Labels and placeholder tiles are rendered with this font.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
# Native addons (native/, built by npm install): libopus for the ingest's Opus decoding.
[ -f /usr/include/opus/opus.h ] || need+=(libopus-dev)
# libsrtp2 for the WHEP fan-out send addon (native/srtpfan; optional: werift's path is the fallback).
[ -f /usr/include/srtp2/srtp.h ] || need+=(libsrtp2-dev)
# libswscale for the mixer's canvas addon (native/i420compose: tiles scaled and drawn in Node).
[ -f /usr/include/libswscale/swscale.h ] || compgen -G '/usr/include/*/libswscale/swscale.h' >/dev/null || need+=(libswscale-dev)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ "$runtime_only" = 0 ]; then
  # The TURN test runs Debian's coturn on loopback.
  command -v turnserver >/dev/null 2>&1 || need+=(coturn)
  # Recording tests start their own redis-server (nothing needs to run beforehand).
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  # The NAT test puts a 1:1 NAT (nftables DNAT) in front of the server inside a namespace.
  command -v nft >/dev/null 2>&1 || need+=(nftables)
  # Tests and CI drive Debian's Chromium (playwright-core, no browser download).
  if [ "${MCU_SKIP_CHROMIUM:-0}" != 1 ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
  fi
  # The interop suite (test/interop, docs/INTEROP.md): clients the project did not write, driven
  # from Debian's Python: aiortc, and GStreamer webrtcbin (VP8/H.264/Opus, libnice, DTLS/SRTP).
  if [ "${MCU_SKIP_INTEROP:-0}" != 1 ]; then
    /usr/bin/python3 -c 'import aiortc' >/dev/null 2>&1 || need+=(python3-aiortc)
    /usr/bin/python3 -c "import gi; gi.require_version('GstWebRTC', '1.0')" >/dev/null 2>&1 || need+=(python3-gi gir1.2-gst-plugins-bad-1.0)
    command -v gst-inspect-1.0 >/dev/null 2>&1 || need+=(gstreamer1.0-tools)
    for p in base good bad ugly; do
      dpkg -s "gstreamer1.0-plugins-$p" >/dev/null 2>&1 || need+=("gstreamer1.0-plugins-$p")
    done
    dpkg -s gstreamer1.0-nice >/dev/null 2>&1 || need+=(gstreamer1.0-nice)
  fi
  # The voice tests speak their fixtures with espeak-ng.
  command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
filters=$(ffmpeg -hide_banner -filters 2>/dev/null); grep -q ' azmq ' <<<"$filters" || { echo "this ffmpeg lacks the azmq filter (Debian's has it)"; exit 1; }
echo "system packages ready: $(ffmpeg -version | head -1)"
