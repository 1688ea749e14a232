// A RoomMixer with no WebRTC around it, for the probes that time the mixer itself
// (bench/probe-pli.ts, bench/probe-queue.ts): four participants in a 2x2 layout sending moving
// pictures every 33 ms, the 720p and 360p VP8 rungs.

import { RoomMixer } from '../../workers/mixer/RoomMixer.ts';
import { DEFAULT_MIXER_SETTINGS } from '../../pipeline/mixer/graph.ts';

const IDS = ['a', 'b', 'c', 'd'];

/** Eight noisy pictures per participant, cycled: the encoder has real work every frame. */
function noisyPictures(width: number, height: number): Buffer[][] {
  return IDS.map((_, k) =>
    Array.from({ length: 8 }, (_, n) => {
      const b = Buffer.alloc(width * height * 1.5, 128);
      for (let i = 0; i < width * height; i += 7) b[i] = (i * 31 + n * 17 * (k + 1)) & 0xff;
      return b;
    }),
  );
}

/** A new mixer named `name` (listen to it before `start`); `start` runs it and feeds it until `stop`. */
export function mixerAlone(name: string): { mixer: RoomMixer; start: () => Promise<void>; stop: () => Promise<void> } {
  const settings = { ...DEFAULT_MIXER_SETTINGS };
  const { width, height } = settings.slotSize;
  const mixer = new RoomMixer(name, settings);
  mixer.on('error', () => {});
  const pictures = noisyPictures(width, height);
  let feed: NodeJS.Timeout | null = null;
  return {
    mixer,
    async start() {
      await mixer.start();
      IDS.forEach((id) => mixer.addParticipant(id, id));
      mixer.setLayout(new Map(IDS.map((id, k) => [id, { rect: { x: (k % 2) * 640, y: Math.floor(k / 2) * 360, width: 640, height: 360 } }])));
      mixer.setRungs(['720p', '360p']);
      let n = 0;
      feed = setInterval(() => {
        n++;
        IDS.forEach((id, k) => mixer.pushVideo(id, { width, height, data: pictures[k][n % 8] }));
      }, 33);
    },
    async stop() {
      if (feed) clearInterval(feed);
      feed = null;
      await mixer.close();
    },
  };
}
