// Churn at the scale issue #16 asks for: 200 publisher join/leave cycles, 200 subscriber cycles and
// 50 publishers that vanish without a DELETE (40 close their peer connection, 10 are processes
// killed with SIGKILL). Afterwards the server's fds, FFmpeg processes and active resources (timers,
// sockets, handles) are back where they started, RSS within 8 %, and every vanished publisher was removed within 10 s. The server runs as its
// own process, so its fds and memory are its own (the test's werift clients have theirs); clients
// are light on purpose (pre-encoded publishers, packet-counting subscribers).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { audioFixture, videoFixture } from '../../bench/lib/fixtures.ts';
import { RtpPublisher } from '../../bench/lib/RtpPublisher.ts';
import { startServerProc } from '../../bench/lib/server-proc.ts';
import { childPids, procRssBytes } from '../../workers/proc.ts';
import { startRtpSubscriber } from '../helpers/rtp-subscriber.ts';
import { waitFor } from '../helpers/peers.ts';
import { NodeLogs } from '../helpers/node-logs.ts';

const CYCLES = Number(process.env.CHURN_CYCLES ?? 200);
const VANISH_CLOSED = 40;
const VANISH_KILLED = 10;
const BATCH = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => (b / 1048576).toFixed(0);

test(`churn: ${CYCLES} publisher and ${CYCLES} subscriber cycles, ${VANISH_CLOSED + VANISH_KILLED} vanished publishers; fds, processes and active resources back, RSS within 8 %`, async () => {
  const logs = new NodeLogs(); // printed when the test fails
  const gcPreload = fileURLToPath(new URL('../helpers/gc-on-signal.mjs', import.meta.url));
  const server = await startServerProc(
    // The mixer shrinks back 1 s after its trailing slots empty (10 s by default): the same path, less waiting.
    { ROOM_IDLE_MS: '120000', MAX_PARTICIPANTS_PER_ROOM: '16', MIXER_SHRINK_AFTER_MS: '1000', LOG_FILE: process.env.CHURN_LOG ?? logs.file('server') },
    ['--expose-gc', '--import', gcPreload],
  );
  const room = 'churn200';
  const whip = `${server.url}/rooms/${room}/whip`;
  const whep = `${server.url}/rooms/${room}/whep`;
  const video = await videoFixture([60, 160, 90]);
  const audio = await audioFixture('tone');
  await videoFixture([40, 120, 200]); // test/helpers/rtp-publish-cli.ts's, cached before ten processes want it
  // An anchor keeps the room and its rung alive; it must receive throughout.
  const anchor = await startRtpSubscriber(whep, 'VP8');
  const kids: ChildProcess[] = [];
  try {
    const info = async () => (await (await fetch(`${server.url}/rooms/${room}`)).json()) as { participants: Array<{ framesIn: number }>; subscriptions: unknown[]; mixer: { capacity: number } };
    const members = async () => {
      const i = await info();
      return { participants: i.participants.length, subscriptions: i.subscriptions.length };
    };
    const fds = () => fs.readdirSync(`/proc/${server.pid}/fd`).length;
    /** What the server's fds are, by kind (socket, pipe, anon_inode:[eventfd], a path…). */
    const fdKinds = () => {
      const kinds: Record<string, number> = {};
      for (const fd of fs.readdirSync(`/proc/${server.pid}/fd`)) {
        try {
          const k = fs.readlinkSync(`/proc/${server.pid}/fd/${fd}`).replace(/:\[\d+\]$/, '').replace(/^\/.*/, 'file');
          kinds[k] = (kinds[k] ?? 0) + 1;
        } catch {
          /* closed meanwhile */
        }
      }
      return JSON.stringify(kinds);
    };
    /** The heap in use, and the live timers, sockets and handles (Node's active resources) by type. */
    const runtime = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const byType: Record<string, number> = {};
      for (const m of text.matchAll(/^nodejs_active_resources\{type="([^"]+)"\} (\S+)/gm)) byType[m[1]] = Number(m[2]);
      // Writes in flight at the moment (a frame to a mixer input FFmpeg has not read yet) are
      // requests, not resources left behind; the socket they belong to is counted.
      const inFlight = Object.entries(byType).filter(([t]) => /WriteWrap|ShutdownWrap/.test(t)).reduce((a, [, n]) => a + n, 0);
      return {
        heap: Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN),
        // Memory JS objects hold outside the heap (Buffers: frames, packets): a leak of ours shows here too.
        external: Number(/^nodejs_external_memory_bytes (\S+)/m.exec(text)?.[1] ?? NaN),
        resources: Number(/^nodejs_active_resources_total (\S+)/m.exec(text)?.[1] ?? NaN) - inFlight,
        byType: JSON.stringify(byType),
      };
    };
    const publisherCycle = async () => {
      const p = await RtpPublisher.whip(whip, video, audio); // resolves once connected
      await sleep(300); // media through its decoder into the mix
      await p.close();
    };
    const subscriberCycle = async () => {
      const s = await startRtpSubscriber(whep, 'VP8');
      await waitFor(() => s.videoPackets() > 0, 10_000, 'the subscriber receiving');
      await s.close();
    };
    const shrinks: number[] = [];
    const batches = async (n: number, one: () => Promise<void>) => {
      for (let i = 0; i < n; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, n - i) }, one));
    };
    const settled = async () => {
      await waitFor(async () => {
        const m = await members();
        return m.participants === 0 && m.subscriptions === 1;
      }, 15_000, 'the room back to its anchor');
      // The batches of 10 grew the mixer to 16 slots; an emptied room shrinks it back (after 2 s here).
      const grownAt = performance.now();
      await waitFor(async () => (await info()).mixer.capacity === 4, 30_000, 'the mixer back to 4 slots');
      if (performance.now() - grownAt > 500) shrinks.push(performance.now() - grownAt);
      // A mixer that was replaced (grown, shrunk) stops its old FFmpeg pair after the new one
      // serves: wait until the processes and fds hold still (a baseline taken mid-swap counted 4).
      let last = '';
      await waitFor(async () => {
        const now = `${childPids(server.pid).length}/${fds()}`;
        const same = now === last;
        last = now;
        return same;
      }, 15_000, 'FFmpeg processes and fds steady', 500);
      // Without a full GC, RSS moves by ±10 % between settles with flat heap and fds (V8's young
      // generation, external buffers awaiting a major GC): the server collects on SIGUSR2 (the
      // preload above, which also gives freed heap pages back: malloc_trim), then the lowest of 5
      // samples over 0.5 s (10 over 2 s before the trim: the samples have agreed since).
      process.kill(server.pid, 'SIGUSR2');
      await sleep(500);
      process.kill(server.pid, 'SIGUSR2');
      let rss = Infinity;
      for (let i = 0; i < 5; i++) {
        await sleep(100);
        rss = Math.min(rss, procRssBytes(server.pid));
      }
      const rt = await runtime();
      return { kinds: fdKinds(), ff: childPids(server.pid).length, fds: fds(), rss, heap: rt.heap, external: rt.external, resources: rt.resources, byType: rt.byType };
    };
    /** Ten publishers at once close their peer connections without a DELETE; ms until removed. */
    const vanishBatch = async (decoded = false) => {
      const pubs = await Promise.all(Array.from({ length: 10 }, () => RtpPublisher.whip(whip, video, audio)));
      await waitFor(async () => (await members()).participants === 10, 10_000, '10 publishers in');
      // The warm-up's batch runs ten publishers' media through the 16-slot mixer, as the killed
      // ones below do, so the baseline has seen the test's peak load. (This alone did not stop
      // RSS's random +25 MB steps; the fixed mmap threshold did, see the RSS bound below.)
      if (decoded) await waitFor(async () => (await info()).participants.every((p: any) => p.framesIn > 0), 15_000, 'ten publishers’ video decoded');
      const at = performance.now();
      for (const p of pubs) p.location = '';
      await Promise.all(pubs.map((p) => p.close()));
      await waitFor(async () => (await members()).participants === 0, 20_000, 'vanished publishers removed', 100);
      return performance.now() - at;
    };
    // Warm-up: what stays for the process's life (code paths, pools, caches) is allocated here,
    // and at the test's peak concurrency (ten publishers at once): RSS keeps the high-water mark of
    // malloc's arenas while the JS heap stays flat (80 vanished publishers in batches of ten, a heap
    // snapshot after each 40: 33.3 → 33.3 → 33.5 MB used), and that mark is not a leak. Since the
    // server trims malloc's free pages (native/malloctrim), 20 cycles of each suffice (60 before).
    await batches(20, publisherCycle);
    await batches(20, subscriberCycle);
    await vanishBatch(true);
    const base = await settled();

    const t0 = performance.now();
    await batches(CYCLES, publisherCycle);
    const pubSec = (performance.now() - t0) / 1000;
    const afterPublishers = await settled();
    const t1 = performance.now();
    await batches(CYCLES, subscriberCycle);
    const subSec = (performance.now() - t1) / 1000;
    const afterSubscribers = await settled();

    // Vanished: peer connection closed without DELETE, in batches of 10.
    const removal: number[] = [];
    for (let i = 0; i < VANISH_CLOSED; i += 10) removal.push(await vanishBatch());
    const afterClosed = await settled();
    // Killed processes: no DTLS alert, no DELETE; the server sees media and consent stop.
    // Started two at a time: ten Node processes starting at once on two cores contend
    // for seconds: 4 of 10 started at once failed ICE on both ends in a quiet-box try.
    let out = '';
    for (let i = 0; i < VANISH_KILLED; i += 2) {
      for (let j = i; j < Math.min(i + 2, VANISH_KILLED); j++) {
        const kid = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/rtp-publish-cli.ts', whip], { stdio: ['ignore', 'pipe', 'inherit'] });
        kids.push(kid);
        kid.stdout!.on('data', (d) => (out += d));
      }
      await waitFor(() => (out.match(/participant /g) ?? []).length === kids.length, 30_000, `publisher processes ${i + 1}-${kids.length} connected`);
    }
    // Killed while publishing: the server has decoded media from each of them.
    await waitFor(async () => {
      const i = await info();
      return i.participants.length === VANISH_KILLED && i.participants.every((p) => p.framesIn > 0);
    }, 15_000, 'the killed-to-be publishers in the room, their video decoded');
    const killedAt = performance.now();
    for (const k of kids) k.kill('SIGKILL');
    await waitFor(async () => (await members()).participants === 0, 20_000, 'killed publishers removed', 100);
    removal.push(performance.now() - killedAt);

    const after = await settled();
    const phases = [base, afterPublishers, afterSubscribers, afterClosed, after];
    console.log(`  start / after publisher cycles / subscriber cycles / closed vanished / killed: fds ${phases.map((p) => p.fds).join(' / ')}; rss ${phases.map((p) => mb(p.rss)).join(' / ')} MB; heap ${phases.map((p) => mb(p.heap)).join(' / ')} MB; external ${phases.map((p) => mb(p.external)).join(' / ')} MB`);
    console.log(`  the mixer shrank back to 4 slots ${shrinks.length} times, after ${shrinks.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s of waiting`);
    const pct = (a: number, b: number) => (((b - a) / a) * 100).toFixed(1);
    console.log(
      `  ${CYCLES} publisher cycles in ${pubSec.toFixed(0)} s, ${CYCLES} subscriber cycles in ${subSec.toFixed(0)} s; vanished removed after ${removal.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s (closed ×10 batches, then 10 killed)`,
    );
    console.log(
      `  rss ${mb(base.rss)} → ${mb(after.rss)} MB (${pct(base.rss, after.rss)} %), heap ${mb(base.heap)} → ${mb(after.heap)} MB, fds ${base.fds} → ${after.fds}, ffmpeg ${base.ff} → ${after.ff}, ` +
        `active resources (timers, sockets, handles) ${phases.map((p) => p.resources).join(' / ')} (${base.byType} → ${after.byType})`,
    );
    assert.ok(Math.max(...removal) < 10_000, `every vanished publisher removed within 10 s (${removal.map((x) => x.toFixed(0)).join(', ')} ms)`);
    assert.is(after.ff, base.ff, 'FFmpeg processes');
    assert.ok(after.fds <= base.fds * 1.05 + 2, `fds ${base.fds} → ${after.fds} (${base.kinds} → ${after.kinds})`);
    // Timers, sockets and handles left behind by a session (a listener's timer, a socket) show here.
    assert.ok(after.resources <= base.resources * 1.05 + 2, `active resources ${base.resources} → ${after.resources} (${base.byType} → ${after.byType})`);
    // A leak of 100 KB a session would be +45 MB here (+18 %). The bound is 8 % (20 MB, 44 KB a
    // session). RSS used to step by +25 MB at a random phase (235-243 → 260-269 MB in three of
    // five runs, heap and external memory flat): glibc's mmap threshold rises after the first
    // large free, 345 KB frames then come from the heap, and RSS keeps a burst's high-water mark.
    // The server runs with a fixed threshold as deployed (MALLOC_MMAP_THRESHOLD_, docs/DEPLOY.md):
    // 231 → 232 and 226 → 231 MB since. Then +10 % again in 2 of 3 runs (207 → 228, 214 → 237 MB):
    // /proc/pid/smaps put all of it in the brk heap (37 → 54 MB), the same 55 MB high-water mark
    // another run reached during its warm-up; the heap's free pages below a live block. The server
    // now gives them back with malloc_trim (workers/mallocTrim.ts, every 30 s; the SIGUSR2 above
    // trims after its GC), so what is measured is memory in use, not the allocator's high-water.
    assert.ok(after.rss <= base.rss * 1.08, `RSS ${mb(base.rss)} → ${mb(after.rss)} MB`);
    const before = anchor.videoPackets();
    try {
      await waitFor(() => anchor.videoPackets() > before + 30, 5000, () => `the anchor still receiving (video packets ${before} → ${anchor.videoPackets()}, audio ${anchor.audioPackets()}, keyframes ${anchor.keyframeTimes.length})`);
    } catch (err) {
      // Which side stopped: what the server says it forwarded to the anchor, and its mixer's state, 1 s apart.
      const view = async () => {
        const d = (await (await fetch(`${server.url}/rooms/${room}`)).json()) as any;
        return JSON.stringify({ subscriptions: d.subscriptions?.map((x: any) => ({ rung: x.rung, pendingRung: x.pendingRung, videoPackets: x.videoPackets, audioPackets: x.audioPackets })), mixer: d.mixer });
      };
      const first = await view().catch((e) => String(e));
      await sleep(1000);
      const second = await view().catch((e) => String(e));
      throw new Error(`${(err as Error).message}\n      server, then 1 s later: ${first}\n      ${second}\n      the anchor: video ${anchor.videoPackets()}, audio ${anchor.audioPackets()}`);
    }
  } catch (err) {
    logs.print(120);
    throw err;
  } finally {
    logs.close();
    for (const k of kids) k.kill('SIGKILL');
    await anchor.close();
    await server.stop();
  }
});

test.run();
