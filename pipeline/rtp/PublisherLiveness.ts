// Whether a connected publisher is still there: gone when media and RTCP stopped together (the
// client was closed or killed) for `silentGoneMs`, or when even its RTCP has been silent for
// 3 × that; stalled when it keeps its RTCP but has sent no media for `stalledAfterMs`.

export interface PublisherTimes {
  connectedAt: number;
  lastRtpAt: number;
  lastRtcpAt: number;
}

export type Liveness = { gone: string } | { stalledMs: number } | null;

export function publisherLiveness(t: PublisherTimes, now: number, stalled: boolean, limits: { stalledAfterMs: number; silentGoneMs: number }): Liveness {
  if (!t.connectedAt) return null;
  const lastMedia = Math.max(t.lastRtpAt, t.connectedAt);
  const lastAny = Math.max(lastMedia, t.lastRtcpAt);
  const rtcpAfterMedia = t.lastRtcpAt > lastMedia + 500;
  if (now - lastAny > limits.silentGoneMs && !rtcpAfterMedia) return { gone: `no packets for ${Math.round((now - lastAny) / 1000)} s` };
  if (now - lastAny > 3 * limits.silentGoneMs) return { gone: `no RTCP for ${Math.round((now - lastAny) / 1000)} s` };
  if (!stalled && now - lastMedia > limits.stalledAfterMs) return { stalledMs: now - lastMedia };
  return null;
}
