// The browser-case probe as its own process: one wrtc WHEP subscriber taking audio + video
// together (libwebrtc's jitter buffers and lip sync), reading the frame stamp in `rect` from
// each decoded composite and finding beep onsets in the played PCM. One JSON line per event on
// stdout, times as epoch ms (performance.timeOrigin + now(), comparable across processes):
//   {"ready":true}  {"frame":n,"at":ms}  {"onset":ms}  {"error":"…"}
// "close" on stdin (or stdin ending) closes the subscriber and exits.
//   node --import tsx bench/lib/avProbe-cli.ts WHEP_URL '{"x":0,"y":0,"width":640,"height":360}'
// Why a process of its own: libwebrtc hands every decoded 720p frame to JS as a fresh 1.4 MB
// buffer, and that external memory keeps V8 marking and compacting the whole heap several times
// a second; beside the publishers' werift heap (bench:capacity's load generator) that cost
// ~0.1 core per room and stalled the publishers' pacing. Alone, its heap is small.

import readline from 'node:readline';
import { WhepSubscriber } from '../../workers/clients/WhepSubscriber.ts';
import { readStamp, type Rect } from './stamp.ts';
import { OnsetDetector } from './stats.ts';

const [url, rectJson] = process.argv.slice(2);
const rect = JSON.parse(rectJson) as Rect;
const epoch = (t: number) => performance.timeOrigin + t;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

let probe: WhepSubscriber | null = null;
let closing = false;
async function close(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  await probe?.close().catch(() => {});
  process.exit(code);
}
readline.createInterface({ input: process.stdin }).on('line', (l) => l.trim() === 'close' && void close(0)).on('close', () => void close(0));

try {
  probe = await WhepSubscriber.start({ whepUrl: url });
  let last = -1;
  probe.onFrame = (frame, at) => {
    const n = readStamp(frame, rect);
    if (n === null || n === last) return;
    last = n;
    say({ frame: n, at: epoch(at) });
  };
  const onsets = new OnsetDetector((at) => say({ onset: epoch(at) }));
  probe.onAudio = (pcm, at) => onsets.push(pcm, at);
  say({ ready: true });
} catch (err) {
  say({ error: String((err as Error).message ?? err) });
  await close(1);
}
