// Receives the mixer's level meter: the processed slots (one channel per slot, s16le PCM) from
// the audio FFmpeg's last output, on a unix socket this listens on, measured every 20 ms here.
// It must listen before FFmpeg starts: FFmpeg connects when it opens its outputs.

import net from 'node:net';
import { PcmLevelMeter } from '../../pipeline/audio/VoiceMeter.ts';
import { METER_SAMPLES } from '../../pipeline/audio/voice.ts';

export class MeterTap {
  private readonly server: net.Server;
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  /** `onReading(slot, rms dBFS)` for each slot every 20 ms while the process runs. */
  constructor(readonly path: string, channels: number, onReading: (slot: number, db: number) => void) {
    this.server = net.createServer((c) => {
      if (this.closed) return void c.destroy();
      this.conns.add(c);
      const meter = new PcmLevelMeter(channels, onReading, METER_SAMPLES);
      c.on('data', (bytes: Buffer) => meter.push(bytes));
      c.on('error', () => {});
      c.on('close', () => this.conns.delete(c));
    });
    this.server.on('error', () => {});
    // Binding a unix socket happens synchronously here, long before FFmpeg gets to its filters.
    this.server.listen(path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    this.server.close();
  }
}
