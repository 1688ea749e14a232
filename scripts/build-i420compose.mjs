#!/usr/bin/env node
// Builds the room mixer's canvas addon (native/i420compose) against Debian's libswscale
// (libswscale-dev, installed by scripts/setup.sh). Without it the mixer draws its tiles in
// JavaScript (scaled tiles by nearest neighbour, several times the CPU), so a failed build warns.
//   node scripts/build-i420compose.mjs [--force]

import fs from 'node:fs';
import { buildAddon } from './lib/build-addon.mjs';

// Debian keeps libav*'s headers under the multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu, …).
const multiarch = fs.readdirSync('/usr/include').map((d) => `/usr/include/${d}/libswscale/swscale.h`);
const header = ['/usr/include/libswscale/swscale.h', ...multiarch].find((f) => fs.existsSync(f)) ?? '/usr/include/<multiarch>/libswscale/swscale.h';

buildAddon({
  name: 'i420compose',
  what: 'canvas (I420 tiles)',
  header,
  pkg: 'libswscale-dev',
  without: 'the mixer draws its tiles in JavaScript (scaled ones by nearest neighbour, at several times the CPU)',
});
