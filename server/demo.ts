// The demo room: three synthetic publishers (a colour and a beeping tone each) join room
// "demo" over WHIP, exactly as a real client would, so a fresh install shows a live mix.

import { SyntheticPublisher, type Rgb } from '../workers/clients/webrtc.ts';

const PEOPLE: Array<{ name: string; rgb: Rgb; hz: number }> = [
  { name: 'Ada', rgb: [220, 60, 60], hz: 440 },
  { name: 'Grace', rgb: [60, 170, 80], hz: 660 },
  { name: 'Linus', rgb: [60, 110, 220], hz: 880 },
];

export async function startDemo(baseUrl: string, room = 'demo', headers: () => Record<string, string> = () => ({})): Promise<{ close(): Promise<void> }> {
  const people: SyntheticPublisher[] = [];
  for (const [i, who] of PEOPLE.entries()) {
    people.push(
      await SyntheticPublisher.start({
        whipUrl: `${baseUrl}/rooms/${room}/whip?name=${encodeURIComponent(who.name)}`,
        headers: headers(),
        color: who.rgb,
        toneHz: who.hz,
        amplitude: 0.2,
        // The voices take turns: 400 ms each, one after the other.
        beep: { onMs: 400, periodMs: 1500, phaseMs: i * 500 },
      }),
    );
  }
  return {
    async close() {
      await Promise.all(people.map((p) => p.close()));
    },
  };
}
