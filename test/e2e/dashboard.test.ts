// The operator dashboard in headless Chromium: the room, its participants and their quality.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer } from '../../server/main.ts';
import { startPublisher, startSubscriber } from '../helpers/peers.ts';
import { chromiumUnavailable, launchChromium } from '../helpers/browser.ts';
import { skip } from '../helpers/skip.ts';
import { docsScreenPath } from '../helpers/docsScreens.ts';

test('the dashboard shows the room, its participants and MOS, live', async () => {
  if (chromiumUnavailable()) return skip(chromiumUnavailable()!);
  const server = await startServer({ port: 0, host: '127.0.0.1', statsIntervalMs: 500 });
  const room = 'standup';
  const pubs = [
    await startPublisher({ baseUrl: server.url, room, name: 'Ada', color: [220, 60, 60], toneHz: 440 }),
    await startPublisher({ baseUrl: server.url, room, name: 'Grace', color: [60, 170, 80], toneHz: 660 }),
  ];
  const sub = await startSubscriber({ baseUrl: server.url, room, participant: pubs[0].participantId });
  const browser = await launchChromium();
  try {
    await sub.waitForFrames(20, 10_000);
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/dashboard`);
    await page.waitForSelector(`[data-room="${room}"]`, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('td.mos.good').length >= 3, undefined, { timeout: 10_000 });
    const text = await page.textContent(`[data-room="${room}"]`);
    assert.match(text!, /Ada/);
    assert.match(text!, /Grace/);
    assert.match(text!, /for Ada/, 'the subscription linked to Ada');
    assert.match((await page.textContent('#cpu-ffmpeg'))!, /%/);
    // A few samples in each chart before the screenshot.
    await page.waitForFunction(
      (n) => ['chart-cpu', 'chart-bw'].every((id) => (document.querySelector(`#${id} polyline`)?.getAttribute('points') ?? '').trim().split(/\s+/).length >= n),
      4,
      { timeout: 10_000 },
    );
    const shot = docsScreenPath('dashboard.png');
    if (shot) await page.screenshot({ path: shot });
    assert.equal(errors, [], 'no page errors');
  } finally {
    await browser.close();
    await sub.close();
    for (const p of pubs) await p.close();
    await server.close();
  }
});

test.run();
