// A publisher's Opus stream at the server: receive statistics, reordering, concealment of
// losses (PLC, or FEC from the next packet), decoded to mono PCM at 48 kHz.

import { AudioReorder, type AudioStep } from '../../../pipeline/rtp/AudioReorder.ts';
import { ReceiveStats } from '../../../pipeline/rtp/ReceiveStats.ts';
import { OpusStreamDecoder } from '../../../workers/decoder/opus.ts';
import { StageLatency } from '../../../pipeline/audio/StageLatency.ts';

export class AudioReceiver {
  stats: ReceiveStats | null = null;
  readonly reorder = new AudioReorder();
  private readonly decoder = new OpusStreamDecoder(1, 48000);
  decodeErrors = 0;
  samplesOut = 0;
  /** A packet's arrival → its PCM handed on (reordering's wait included), ms, recent packets. */
  readonly arrivalToPcmMs = new StageLatency(500);
  /** The Opus decode alone, ms. */
  readonly decodeMs = new StageLatency(500);
  private readonly arrivals = new Map<number, number>();

  /** `arrivedAt`: when the packet it decodes arrived (NaN for concealment of a lost one). */
  constructor(private readonly onPcm: (pcm: Int16Array, arrivedAt: number) => void) {}

  onPacket(ssrc: number, seq: number, timestamp: number, payload: Buffer, bytes: number, now: number): void {
    this.stats ??= new ReceiveStats(ssrc, 48000);
    if (!this.stats.add(seq, timestamp, bytes, now)) return;
    this.arrivals.set(timestamp, now);
    if (this.arrivals.size > 64) this.arrivals.delete(this.arrivals.keys().next().value!);
    this.play(this.reorder.push(seq, timestamp, payload, now));
  }

  tick(now: number): void {
    const d = this.reorder.nextDeadline();
    if (d !== null && now >= d) this.play(this.reorder.poll(now));
  }

  private play(steps: AudioStep[]): void {
    for (const s of steps) {
      try {
        const t0 = performance.now();
        const pcm = s.kind === 'packet' ? this.decoder.decode(s.payload) : this.decoder.conceal(s.samples, s.fec);
        const t1 = performance.now();
        this.decodeMs.add(t1 - t0);
        const arrived = s.kind === 'packet' ? this.arrivals.get(s.timestamp) : undefined;
        if (arrived !== undefined) this.arrivalToPcmMs.add(t1 - arrived);
        if (pcm.length) {
          this.samplesOut += pcm.length;
          this.onPcm(pcm, arrived ?? NaN);
        }
      } catch {
        this.decodeErrors++;
      }
    }
  }
}
