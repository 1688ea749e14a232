// Estimated MOS from network figures: the simplified ITU-T G.107 E-model that common WebRTC
// monitors use (documented with its constants in docs/MONITORING.md). Pure.

/** Default transmission rating with no impairments (G.107: Ro − Is + A with default values). */
export const R_DEFAULT = 93.2;

export interface NetworkFigures {
  /** Round-trip time, ms. */
  rttMs: number;
  /** Interarrival jitter, ms. */
  jitterMs: number;
  /** Packet loss, percent (0..100). */
  lossPercent: number;
}

/** Effective one-way latency: half the RTT, jitter counted twice (buffering), 10 ms codec delay. */
export function effectiveLatencyMs({ rttMs, jitterMs }: Pick<NetworkFigures, 'rttMs' | 'jitterMs'>): number {
  return rttMs / 2 + 2 * jitterMs + 10;
}

/** Transmission rating factor R. */
export function rFactor(f: NetworkFigures): number {
  const lat = effectiveLatencyMs(f);
  // Delay impairment grows 4x faster past 160 ms (G.114's "acceptable with care").
  let r = lat < 160 ? R_DEFAULT - lat / 40 : R_DEFAULT - (lat - 120) / 10;
  r -= 2.5 * Math.max(0, Math.min(100, f.lossPercent));
  return r;
}

/** G.107 Annex B mapping of R to MOS (1 .. 4.5). */
export function mosFromR(r: number): number {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r);
}

export function estimateMos(f: NetworkFigures): number {
  return mosFromR(rFactor(f));
}

export type MosGrade = 'good' | 'fair' | 'poor';

/** Dashboard colouring: ≥ 4.0 good (users satisfied), ≥ 3.6 fair, below poor. */
export function mosGrade(mos: number): MosGrade {
  return mos >= 4 ? 'good' : mos >= 3.6 ? 'fair' : 'poor';
}
