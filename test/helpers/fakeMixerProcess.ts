// Stands in for a MixerProcess in unit tests of what supervises it (MixerSupervisor,
// OnDemandLane): events, a pid, readiness on demand, and a close() the test resolves.

import { EventEmitter } from 'node:events';

let pids = 100;

export class FakeProc extends EventEmitter {
  readonly ffmpeg = { pid: ++pids, running: true, started: Promise.resolve(pids) };
  readonly audio: { ffmpeg: { running: boolean } } | null = { ffmpeg: { running: true } };
  ownsAudioProcess = true;
  allConnected = false;
  lastPacketAt = 0;
  closeCalls = 0;
  private release!: () => void;
  private readonly closed = new Promise<void>((r) => (this.release = r));
  constructor(readonly name: string, readonly rungs: Array<{ id: string }>) {
    super();
  }
  connect(): void {
    this.allConnected = true;
    this.emit('connected');
  }
  close(): Promise<void> {
    this.closeCalls++;
    this.ffmpeg.running = false;
    return this.closed;
  }
  finishClose(): void {
    this.release();
  }
  handOverAudio(): void {}
}

export const quietLog = { debug() {}, info() {}, warn() {}, error() {}, child() { return quietLog; } } as any;
export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
