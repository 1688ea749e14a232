// Gives freed malloc memory back to the kernel now and then (native/malloctrim: glibc's
// malloc_trim). glibc returns its main heap's memory only from the top, so after a burst (ten
// publishers joining at once) RSS keeps the burst's high-water mark while the memory sits free
// inside the heap: e2e/churn's server held 55 MB of heap after one, 17 MB of it above its settled
// size. A trim every MALLOC_TRIM_INTERVAL_MS releases those pages (they fault back in when used).

import { optionalAddon } from './nativeAddon.ts';

export interface MallocTrimAddon {
  /** malloc_trim(0): true when memory was released. */
  trim(): boolean;
  /** mallinfo2(): bytes the heaps hold from the kernel, the free ones among them, bytes in mmapped blocks. */
  info(): { heapBytes: number; freeBytes: number; mmapBytes: number };
}

/** The addon, or null when it is not built (or does not load: not glibc); RSS then keeps its high-water mark. */
export const mallocTrimAddon = optionalAddon<MallocTrimAddon>('malloctrim');

/** Trims every `intervalMs` (0: never) until closed. */
export class MemoryTrimmer {
  private timer: NodeJS.Timeout | null = null;

  constructor(intervalMs: number, private readonly lib = mallocTrimAddon()) {
    if (intervalMs > 0 && lib) {
      this.timer = setInterval(() => lib.trim(), intervalMs);
      this.timer.unref();
    }
  }

  /** Whether it trims (the addon is there and an interval was given). */
  get active(): boolean {
    return this.timer !== null;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
