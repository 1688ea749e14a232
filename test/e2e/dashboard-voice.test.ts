// The dashboard's voice figures (#21) in headless Chromium: a participant sends speech with white
// noise at 10 dB SNR (espeak-ng + a noise generator, pre-encoded Opus over WHIP), another a
// 1 kHz tone marked untouched (music). The dashboard must show, per participant, the input
// level, the level after processing and the noise reduction, as numbers that fit what is sent
// and agree with GET /rooms/{room}.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { WhepSubscriber } from '../../workers/clients/webrtc.ts';
import { chromiumUnavailable, launchChromium } from '../helpers/browser.ts';
import { waitFor } from '../helpers/peers.ts';
import { hasBinary, skip } from '../helpers/skip.ts';
import * as V from '../helpers/voice.ts';

interface VoiceCell {
  text: string;
  processing: string;
  inputDb: string;
  processedDb: string;
  noiseReductionDb: string;
}

/** The voice cell of the participant's row, as the page shows it. */
async function voiceCell(page: import('playwright-core').Page, id: string): Promise<VoiceCell | null> {
  return page.evaluate((pid) => {
    const td = document.querySelector<HTMLElement>(`tr[data-participant="${pid}"] td.voice`);
    if (!td) return null;
    const d = td.dataset;
    return { text: td.textContent ?? '', processing: d.processing ?? '', inputDb: d.inputDb ?? '', processedDb: d.processedDb ?? '', noiseReductionDb: d.noiseReductionDb ?? '' };
  }, id);
}

test('the dashboard shows each participant’s input level, processed level and noise reduction', async () => {
  if (chromiumUnavailable()) return skip(chromiumUnavailable()!);
  if (!hasBinary('espeak-ng')) return skip('espeak-ng is not installed (scripts/setup.sh installs it)');
  const t0 = performance.now();
  const step = (what: string) => console.log(`  ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const server = await startServer({ port: 0, host: '127.0.0.1', statsIntervalMs: 500, demo: false });
  step('server started');
  const room = 'voices-dash';
  const open: Array<{ close(): Promise<unknown> }> = [];
  const browser = await launchChromium();
  step('Chromium launched');
  let sampler: NodeJS.Timeout | undefined;
  try {
    // Speech at -20 dBFS RMS while talking, white noise at -30 dBFS: 10 dB SNR.
    const s = V.speechLoop('Please speak a little louder, I can hardly hear you.', 0.5);
    const g = 0.1 / V.activeSpeechRms(s);
    const clean = s.map((v) => v * g);
    const noisy = await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=Noisy`, null, V.voiceLoop(clean, V.add(clean, V.whiteNoise(-30))).opus);
    open.push(noisy);
    // A 1 kHz tone, amplitude 0.1: RMS -23 dBFS (the meter reads a full-scale sine as -3 dB).
    const music = await RtpPublisher.whip(`${server.url}/rooms/${room}/whip?name=Music`, null, V.voiceLoop(V.sine(1000, 0.1)).opus);
    open.push(music);
    step('both published');
    const noisyId = noisy.location.split('/').pop()!;
    const musicId = music.location.split('/').pop()!;
    const res = await fetch(`${server.url}/rooms/${room}/participants/${musicId}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ audio: { processing: false } }),
    });
    assert.is(res.status, 200, `PATCH participant: ${await res.text()}`);
    const sub = await WhepSubscriber.start({ whepUrl: `${server.url}/rooms/${room}/whep`, video: false });
    open.push(sub);

    const page = await browser.newPage({ viewport: { width: 1400, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector(`tr[data-participant="${noisyId}"] td.voice`, { timeout: 15_000 });
    // The noise floors need a few seconds of readings (the loop is 10 s, mostly pauses).
    let last: VoiceCell | null = null;
    // The API's noise cut, sampled while the page is watched: the page shows the monitor's
    // snapshot of up to STATS_INTERVAL_MS (2 s) ago, and the figure moves with talk and pauses.
    const apiCuts: Array<{ at: number; db: number }> = [];
    sampler = setInterval(() => {
      fetch(`${server.url}/rooms/${room}`)
        .then((r) => r.json())
        .then((j: any) => {
          const db = j.participants.find((p: any) => p.id === noisyId)?.voice?.noiseReductionDb;
          if (typeof db === 'number') apiCuts.push({ at: performance.now(), db });
        })
        .catch(() => {});
    }, 250);
    const cell = await waitFor(
      async () => {
        last = await voiceCell(page, noisyId);
        // ... and 3 s of the API's readings beside them (the page's figure is up to 2 s old).
        return last && last.noiseReductionDb !== '' && last.inputDb !== '' && last.processedDb !== '' && apiCuts.length >= 12 ? last : null;
      },
      40_000,
      () => `the noisy participant's voice figures on the dashboard (last: ${JSON.stringify(last)})`,
      250,
    );
    step('the figures shown');
    const api = (await (await fetch(`${server.url}/rooms/${room}`)).json()) as { participants: Array<{ id: string; voice: Record<string, any> }> };
    const apiVoice = api.participants.find((p) => p.id === noisyId)!.voice;
    const musicCell = (await voiceCell(page, musicId))!;
    console.log(`  dashboard, Noisy: "${cell.text}" (data: in ${cell.inputDb}, out ${cell.processedDb}, noise cut ${cell.noiseReductionDb} dB)`);
    console.log(`  GET /rooms, Noisy: in ${apiVoice.inputDb}, out ${apiVoice.processedDb}, floors ${apiVoice.inputFloorDb} → ${apiVoice.processedFloorDb}, noise cut ${apiVoice.noiseReductionDb} dB`);
    console.log(`  dashboard, Music: "${musicCell.text}" (data: processing ${musicCell.processing}, in ${musicCell.inputDb})`);

    // What the page says in words carries the same numbers as its data.
    const m = /^(-?\d+) dB → (-?\d+) dB \(noise cut (-?\d+) dB\)$/.exec(cell.text);
    assert.ok(m, `the voice cell reads "in → out (noise cut)": "${cell.text}"`);
    const [shownIn, shownOut, shownCut] = m!.slice(1).map(Number);
    // (The page rounds with toFixed(0): -25.5 reads -26.)
    const shown = (v: string) => Number(Number(v).toFixed(0));
    assert.is(shownIn, shown(cell.inputDb), 'shown input level = its data');
    assert.is(shownOut, shown(cell.processedDb), 'shown processed level = its data');
    assert.is(shownCut, shown(cell.noiseReductionDb), 'shown noise reduction = its data');
    // Plausible for what is sent: the input's last 500 ms lie between the noise (-30 dBFS) and
    // the speech (-20 dBFS RMS while talking, a few dB higher on its loudest half-second).
    assert.ok(shownIn >= -36 && shownIn <= -12, `input level ${shownIn} dB (sent: noise -30, speech -20 dBFS)`);
    assert.ok(shownOut >= -90 && shownOut <= -5, `processed level ${shownOut} dB`);
    // RNNoise takes the -30 dBFS noise floor down by well over 10 dB (e2e/voice: ≥ 15 dB in the mix).
    assert.ok(shownCut >= 10, `noise reduction shown ${shownCut} dB (want ≥ 10)`);
    // What the page shows lies within what the API said over the last three snapshot intervals
    // (± 3 dB): the figure moves with the talk and its pauses (the processed floor is near digital
    // silence, where a small change is many dB).
    clearInterval(sampler);
    const recent = apiCuts.filter((c) => c.at >= performance.now() - 6000).map((c) => c.db);
    const [lo, hi] = [Math.min(...recent, apiVoice.noiseReductionDb), Math.max(...recent, apiVoice.noiseReductionDb)];
    const shownDb = Number(cell.noiseReductionDb);
    assert.ok(shownDb >= lo - 3 && shownDb <= hi + 3, `dashboard ${shownDb} dB vs API ${lo.toFixed(1)}…${hi.toFixed(1)} dB over the last 6 s (${recent.length} readings)`);
    assert.ok(apiVoice.inputFloorDb > -36 && apiVoice.inputFloorDb < -24, `API input noise floor ${apiVoice.inputFloorDb} dB (sent -30)`);
    // The untouched participant says so, with its input level: the tone's -23 dBFS.
    assert.is(musicCell.processing, 'false');
    const mm = /^untouched · in (-?\d+) dB$/.exec(musicCell.text);
    assert.ok(mm, `the untouched cell: "${musicCell.text}"`);
    assert.ok(Math.abs(Number(mm![1]) + 23) <= 3, `the tone's input level ${mm![1]} dB (sent -23 dBFS RMS)`);
    assert.equal(errors, [], 'no page errors');
  } finally {
    clearInterval(sampler);
    await browser.close();
    for (const o of open.reverse()) await o.close().catch(() => {});
    await server.close();
  }
});

test.run();
