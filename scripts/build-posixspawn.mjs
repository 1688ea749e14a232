#!/usr/bin/env node
// Builds the posix_spawn addon (native/posixspawn) against glibc's headers (libc6-dev). Optional:
// without it FFmpeg is started with Node's child_process.spawn, whose fork() stalls the event loop
// longer the larger the server is, so a failed build only warns.
//   node scripts/build-posixspawn.mjs [--force]

import { buildAddon } from './lib/build-addon.mjs';

buildAddon({
  name: 'posixspawn',
  what: 'posix_spawn',
  header: '/usr/include/spawn.h',
  pkg: 'libc6-dev',
  without: 'each FFmpeg start forks the whole server (20-100 ms of its event loop at 300-660 MB RSS)',
});
