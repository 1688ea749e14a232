// Preloaded into a server a leak test measures (node --expose-gc --import this): SIGUSR2 runs a
// full garbage collection, so RSS is sampled after V8 has released what it no longer needs rather
// than whenever its next major GC happens to run.
process.on('SIGUSR2', () => globalThis.gc?.());
