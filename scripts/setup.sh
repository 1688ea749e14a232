#!/usr/bin/env bash
# Installs the system packages the MCU needs on Debian (run as root, or with sudo available).
# Idempotent: skips apt when everything is already there.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# Labels and placeholder tiles are rendered with this font.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# The TURN test runs Debian's coturn on loopback.
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
# Tests and CI drive Debian's Chromium (playwright-core, no browser download).
if [ "${MCU_SKIP_CHROMIUM:-0}" != 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
filters=$(ffmpeg -hide_banner -filters 2>/dev/null); grep -q ' zmq ' <<<"$filters" || { echo "this ffmpeg lacks the zmq filter (Debian's has it)"; exit 1; }
echo "system packages ready: $(ffmpeg -version | head -1)"
