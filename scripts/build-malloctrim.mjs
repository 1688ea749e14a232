#!/usr/bin/env node
// Builds the malloc_trim addon (native/malloctrim) against glibc's headers (libc6-dev). Optional:
// without it the server's RSS keeps the high-water mark of a burst, so a failed build only warns.
//   node scripts/build-malloctrim.mjs [--force]

import { buildAddon } from './lib/build-addon.mjs';

buildAddon({
  name: 'malloctrim',
  what: 'malloc_trim',
  header: '/usr/include/malloc.h',
  pkg: 'libc6-dev',
  without: "the server's resident memory keeps the high-water mark of a burst of joins",
});
