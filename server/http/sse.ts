// Server-Sent Events, one way for every stream: headers, a keep-alive comment, and a cleanup
// that runs exactly once whether the client goes, the source ends or the server closes —
// so no listener outlives its client.

import type { Request, Response } from 'express';

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Ends the stream from the server side (the source closed). */
  end(): void;
  /** Runs `fn` once when the stream ends, for whatever reason. */
  onEnd(fn: () => void): void;
}

const PING_MS = 15_000;

export function openSse(req: Request, res: Response): SseStream {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.flushHeaders?.();
  const cleanups: Array<() => void> = [];
  let ended = false;
  const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
  const finish = () => {
    if (ended) return;
    ended = true;
    clearInterval(ping);
    req.off('close', finish);
    for (const fn of cleanups.splice(0)) {
      try {
        fn();
      } catch {
        /* a cleanup must not stop the others */
      }
    }
    res.end();
  };
  req.on('close', finish);
  return {
    send(event, data) {
      if (!ended) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end: finish,
    onEnd(fn) {
      if (ended) fn();
      else cleanups.push(fn);
    },
  };
}
