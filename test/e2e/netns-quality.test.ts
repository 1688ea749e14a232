// A publisher behind a tbf-limited veth in its own network namespace: the server's own view
// of that connection shows the constraint (lower bitrate or raised loss), while a publisher
// on an unconstrained path with the same media does not.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { startServer } from '../../server/main.ts';
import { waitFor } from '../helpers/peers.ts';
import { SyntheticPublisher } from '../../workers/clients/webrtc.ts';
import { createTestHost, netnsAvailable } from '../helpers/netns.ts';
import { skip } from '../helpers/skip.ts';

test('a tbf-limited publisher shows lowered bitrate or raised loss in its stats', async () => {
  if (!netnsAvailable()) {
    return skip('needs root and ip netns');
  }
  const host = createTestHost(1);
  const server = await startServer({ port: 0, host: '0.0.0.0', statsIntervalMs: 1000 });
  const room = 'netns-quality';
  let child: ChildProcess | null = null;
  try {
    // The unconstrained control, with the same encoder-hungry noise picture.
    const control = await SyntheticPublisher.start({
      whipUrl: `${server.url}/rooms/${room}/whip?name=control`,
      color: [40, 120, 200],
      toneHz: 440,
      pattern: 'noise',
    });
    host.limitEgress(300);
    const url = `http://${host.hostAddress}:${server.port}/rooms/${room}/whip?name=limited`;
    const [cmd, ...args] = host.exec([process.execPath, '--import', 'tsx', 'test/helpers/publish-cli.ts', url, 'noise']);
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const limitedId = await waitFor(() => /participant (\S+)/.exec(out)?.[1], 20_000, `the namespaced publisher (${out})`);
    // Let bandwidth estimation settle.
    await new Promise((r) => setTimeout(r, 8000));
    const stats = await (await fetch(`${server.url}/stats?fresh`)).json();
    const ps = stats.rooms.find((r: any) => r.name === room).participants;
    const limited = ps.find((p: any) => p.id === limitedId).quality.server;
    const ctl = ps.find((p: any) => p.id === control.participantId).quality.server;
    console.log(`  limited: ${limited.bitrateKbps.toFixed(0)} kbps, ${limited.lossPercent.toFixed(1)} % loss, MOS ${limited.mos.toFixed(2)}; control: ${ctl.bitrateKbps.toFixed(0)} kbps, ${ctl.lossPercent.toFixed(1)} % loss`);
    // The same media without the limit: no loss (its bitrate depends on libwebrtc's ramp-up).
    assert.ok(ctl.lossPercent < 2, `the control publisher is not constrained (${ctl.lossPercent} % loss)`);
    const raisedLoss = limited.lossPercent > ctl.lossPercent + 2;
    const lowerBitrate = limited.bitrateKbps < 330 && ctl.bitrateKbps > 400;
    assert.ok(raisedLoss || lowerBitrate, 'the constraint shows in the limited publisher\'s stats');
    await control.close();
  } finally {
    child?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    child?.kill('SIGKILL');
    await server.close();
    host.cleanup();
  }
});

test.run();
