// Preloaded into a server a leak test measures (node --expose-gc --import this): SIGUSR2 runs a
// full garbage collection and then glibc's malloc_trim (native/malloctrim, which the server also
// runs every MALLOC_TRIM_INTERVAL_MS), so RSS is sampled after V8 has released what it no longer
// needs and the freed pages inside malloc's heap are back with the kernel, rather than whenever
// the next major GC or trim happens to run.
import { createRequire } from 'node:module';

let trim = () => {};
try {
  const addon = createRequire(import.meta.url)('../../native/malloctrim/build/Release/malloctrim.node');
  trim = () => addon.trim();
} catch {
  /* not built: RSS then includes the heap's free pages */
}
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  trim();
});
