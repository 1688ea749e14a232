// A wait that an AbortSignal can cut short. Pure (timers only).

/**
 * Waits `ms`, or less if `signal` aborts. The abort listener goes when the wait ends either way:
 * the worker's shutdown signal lives as long as the process, and a recording waits on it every
 * tick (a listener left per 250 ms tick was 14 400 an hour, and Node's MaxListenersExceededWarning).
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
