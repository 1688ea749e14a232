#!/usr/bin/env node
// Builds the WHEP fan-out send addon (native/srtpfan) against Debian's libsrtp2 (libsrtp2-dev,
// installed by scripts/setup.sh). Optional: without it subscribers get werift's own (slower)
// send path, so a failed build only warns.
//   node scripts/build-srtpfan.mjs [--force]

import { buildAddon } from './lib/build-addon.mjs';

buildAddon({
  name: 'srtpfan',
  what: 'fan-out send',
  header: '/usr/include/srtp2/srtp.h',
  pkg: 'libsrtp2-dev',
  without: "subscribers fall back to werift's send path (several times the CPU per viewer)",
});
