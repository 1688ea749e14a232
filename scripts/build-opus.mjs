#!/usr/bin/env node
// Builds the ingest's Opus decoder addon (native/opus) against Debian's libopus (libopus-dev,
// installed by scripts/setup.sh). A failed build is reported loudly: without it publishers'
// audio cannot be decoded (WHIP answers 503).
//   node scripts/build-opus.mjs [--force]

import { buildAddon } from './lib/build-addon.mjs';

buildAddon({
  name: 'opus',
  what: 'Opus decoder',
  header: '/usr/include/opus/opus.h',
  pkg: 'libopus-dev',
  without: "publishers' audio cannot be decoded without it",
});
