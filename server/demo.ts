// The demo room: three synthetic publishers (a colour each, slowly pulsing, and a beeping tone
// each) join room "demo" over WHIP, exactly as a real client would, so a fresh install shows a
// live mix at http://localhost:8080/.

import wrtc from '@roamhq/wrtc';

const { RTCPeerConnection, nonstandard } = wrtc as any;

interface Synthetic {
  close(): Promise<void>;
}

const PEOPLE = [
  { name: 'Ada', rgb: [220, 60, 60], hz: 440 },
  { name: 'Grace', rgb: [60, 170, 80], hz: 660 },
  { name: 'Linus', rgb: [60, 110, 220], hz: 880 },
] as const;

function yuv([r, g, b]: readonly number[]): [number, number, number] {
  return [
    Math.round(16 + 0.257 * r + 0.504 * g + 0.098 * b),
    Math.round(128 - 0.148 * r - 0.291 * g + 0.439 * b),
    Math.round(128 + 0.439 * r - 0.368 * g - 0.071 * b),
  ];
}

async function publish(baseUrl: string, room: string, who: (typeof PEOPLE)[number]): Promise<Synthetic> {
  const pc = new RTCPeerConnection();
  const video = new nonstandard.RTCVideoSource();
  const audio = new nonstandard.RTCAudioSource();
  pc.addTrack(video.createTrack());
  pc.addTrack(audio.createTrack());
  const w = 640;
  const h = 360;
  const frame = new Uint8Array((w * h * 3) / 2);
  const [y, u, v] = yuv(who.rgb);
  let tick = 0;
  const videoTimer = setInterval(() => {
    // Pulse the brightness so the stream visibly lives; Buffer.fill keeps it native.
    const pulse = Math.round(20 * Math.sin(tick++ / 15));
    frame.fill(Math.max(16, Math.min(235, y + pulse)), 0, w * h);
    frame.fill(u, w * h, (w * h * 5) / 4);
    frame.fill(v, (w * h * 5) / 4);
    video.onFrame({ width: w, height: h, data: frame });
  }, 1000 / 30);
  let sample = 0;
  const start = Date.now();
  let sent = 0;
  const audioTimer = setInterval(() => {
    const due = Math.floor((Date.now() - start) / 10);
    for (; sent < due; sent++) {
      const samples = new Int16Array(480);
      // 400 ms beep, 1.2 s pause: the voices take turns rather than droning together.
      const on = (sample / 48000 + PEOPLE.indexOf(who) * 0.5) % 1.6 < 0.4;
      for (let i = 0; i < 480; i++, sample++) {
        samples[i] = on ? Math.round(6000 * Math.sin((2 * Math.PI * who.hz * sample) / 48000)) : 0;
      }
      audio.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }
  }, 10);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
  const res = await fetch(`${baseUrl}/rooms/${room}/whip?name=${encodeURIComponent(who.name)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw new Error(`demo publisher ${who.name}: ${res.status} ${await res.text()}`);
  const location = res.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  let closed = false;
  return {
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(videoTimer);
      clearInterval(audioTimer);
      await fetch(`${baseUrl}${location}`, { method: 'DELETE' }).catch(() => {});
      pc.close();
    },
  };
}

export async function startDemo(baseUrl: string, room = 'demo'): Promise<Synthetic> {
  const people: Synthetic[] = [];
  for (const who of PEOPLE) people.push(await publish(baseUrl, room, who));
  return {
    async close() {
      await Promise.all(people.map((p) => p.close()));
    },
  };
}
