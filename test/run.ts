// Test entry point. Test files run in child processes (uvu inside; test/helpers/runner/), so one
// suite's peers, FFmpeg processes and heap cannot disturb the next, and a process that a native
// module keeps alive, or that crashes, is reported with its exit, its stderr and the test it was in.
//   npm test                  every test/**/*.test.ts
//   npm test -- e2e/http      only files whose path contains "e2e/http" (several: any of them)
//   MCU_TEST_JOBS=1 npm test  no parallelism (default 2)
//   MCU_TEST_FILE_LIMIT_S     a process's time limit (default 600 s), then SIGKILL and a report
//   MCU_TEST_RETRIES=0        no second run of a failed end-to-end file (default 1)
// The unit files run together in one process (pure and fast); PARALLEL files run two at a time;
// every other file runs alone, after them.

import { runChild } from './helpers/runner/child.ts';
import { describeFlaky, rerunFailed } from './helpers/runner/retry.ts';
import { liveChildren, runJob, type FileResult, type JobResult } from './helpers/runner/file-run.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'uvu/parse';

if (process.argv[2] === '--one') await runChild(process.argv.slice(3));

// e2e and interop files that assert no duration, frame rate, frame gap, latency or CPU figure
// (or one with a wide margin), so sharing the two cores with another file costs them only time. Every other e2e file asserts such figures
// (frame-gap, adaptation, netns-quality, webinar, ladder's PLI latency, inputs' first
// frame, monitoring's mixer fps, layouts' "within 3 s", ingest, room's frame gap on leave,
// recordings' durations, browser's decoded frames, dashboard's "good"
// MOS, which jitter from a busy CPU lowers) and runs alone.
// A new file runs alone until someone checks it and adds it here. Longest first: they start first.
// Checked 2026-11-27 and added, their bounds 4× or more over what they take on a busy box:
// cluster-edge (failover < 20 s, takes ~5 s), dashboard-voice, fast-egress, ffmpeg-spaces and the interop files (no figure; waits for
// conditions). No netns file: each adds a veth (10.231.x.1, 10.232.x.1) to the host, the ICE
// agents of a file running beside it gather that address and may pair on it, and when the netns
// file ends and deletes it their media stops (e2e/sdp-shapes beside netns-nat: all three
// publishers "no packets for 4 s", the subscriber's pair 10.231.7.1 → 10.231.7.1 dead).
// rate-limits went back to running alone: its /healthz p95 (< 500 ms, ~8 ms alone) read
// 1714 ms once beside bench-smoke (2026-11-27, run H3): two checks stalled ~2 s.
const PARALLEL_ORDER = [
  // The benchmarks in smoke mode: they assert that figures are produced, not their values.
  'e2e/bench-smoke.test.ts',
  'e2e/bench-smoke-join.test.ts',
  'e2e/cluster-edge.test.ts',
  'e2e/security.test.ts',
  'e2e/quickstart.test.ts',
  'e2e/cluster-http.test.ts',
  'e2e/runner.test.ts',
  'e2e/auth.test.ts',
  'interop/chromium.test.ts',
  'e2e/dashboard-voice.test.ts',
  'e2e/shutdown.test.ts',
  'e2e/sdp-shapes.test.ts',
  'interop/gstreamer.test.ts',
  'e2e/fast-egress.test.ts',
  'e2e/ffmpeg-spaces.test.ts',
  'interop/aiortc.test.ts',
  'e2e/production-build.test.ts',
  'e2e/http.test.ts',
  'e2e/voice-limiter.test.ts',
  'e2e/ffmpeg-process.test.ts',
  'e2e/tmp-sweep.test.ts',
  'e2e/recordings-api.test.ts',
];
const PARALLEL = new Set(PARALLEL_ORDER);

// Every JSON response any test gets is checked against /openapi.json (server/http/responseCheck.ts);
// a mismatch anywhere fails the run, so the document cannot drift from what the server answers.
process.env.MCU_CHECK_RESPONSES ??= '1';
const mismatchFile = (process.env.MCU_RESPONSE_MISMATCH_FILE ??= path.join(os.tmpdir(), `mcu-response-check-${process.pid}.jsonl`));
fs.rmSync(mismatchFile, { force: true });

// Admission from CPU headroom, skipped mixer ticks and event-loop delay (on in production) is off
// for the suite: its files deliberately run more rooms than a small shared box sustains, two files
// at a time, with their clients in the same processes, so they would be refused at random (a
// full run on a loaded box saw "event-loop delay 307 ms > 250 ms" refuse churn's publishers).
// e2e/admission turns it on for its own server.
process.env.ADMISSION_MAX_CPU_PERCENT ??= '0';
process.env.ADMISSION_MAX_SKIPPED_PCT ??= '0';
process.env.ADMISSION_MAX_LAG_MS ??= '0';

const LIMIT_MS = (Number(process.env.MCU_TEST_FILE_LIMIT_S) || 600) * 1000; // per process
// An end-to-end file that fails is run once more, alone, at the end (helpers/runner/retry.ts):
// failing twice fails the run; passing the second time is listed as flaky with what it first said.
const RETRIES = Math.max(0, Number(process.env.MCU_TEST_RETRIES ?? 1) || 0);
const JOBS = Math.max(1, Number(process.env.MCU_TEST_JOBS) || 2);

const filters = process.argv.slice(2);
const ctx = await parse('test', /\.test\.ts$/, { ignore: ['helpers'], cwd: process.cwd() });
const names = ctx.suites.map((s) => s.name).filter((n) => !filters.length || filters.some((f) => n.includes(f)));
const unit = names.filter((n) => n.startsWith('unit/'));
const parallel: string[][] = [...(unit.length ? [unit] : []), ...PARALLEL_ORDER.filter((n) => names.includes(n)).map((n) => [n])];
const alone = names.filter((n) => !n.startsWith('unit/') && !PARALLEL.has(n)).map((n) => [n]);

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const child of liveChildren) child.kill('SIGTERM');
    process.exit(130);
  });
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const short = (s: string) => (s.length > 70 ? `${s.slice(0, 67)}…` : s);
/** A file taking longer than this lists its slowest tests. */
const SLOW_FILE_MS = 20_000;
const label = (job: string[]) => (job.length > 1 ? `unit (${job.length} files)` : job[0]);
const results: FileResult[] = [];
/** Secrets seen in a file's output (its servers' logs): a failure of the run, named by file. */
const secretLeaks: string[] = [];
/** Node's own warnings (listener leaks, deprecations) in a file's output: a failure of the run. */
const nodeWarnings: string[] = [];

function report(job: string[], r: JobResult, held: boolean): void {
  if (held) process.stdout.write(`\n── ${label(job)} ──\n${r.output}`);
  for (const f of r.files) {
    const counts = `${f.passed} passed${f.failed ? `, ${f.failed} failed` : ''}${f.skipped.length ? `, ${f.skipped.length} skipped` : ''}`;
    const cpu = f.cpuMs !== undefined ? ` (CPU ${sec(f.cpuMs)}, ${(f.cpuMs / Math.max(1, f.durationMs)).toFixed(2)} core)` : '';
    console.log(`${f.failed ? '✘' : '✔'} ${f.name}: ${counts} in ${sec(f.durationMs)}${cpu}`);
    for (const s of f.skipped) console.log(`    skipped "${s.test}": ${s.reason}`);
    for (const l of f.leftOpen) console.log(`    ⚠ left open at the end (closed before exit): ${l}`);
    // Where a long file's time goes: its slowest tests and hooks.
    if (f.durationMs > SLOW_FILE_MS && f.steps.length > 1) console.log(`    slowest: ${f.steps.slice(0, 3).map((x) => `${sec(x.ms)} ${short(x.what)}`).join(' · ')}`);
    if (f.problem) console.log(`  ✘ ${f.name}: ${f.problem}`);
  }
  results.push(...r.files);
  if (r.secrets.length) {
    secretLeaks.push(`${label(job)}: ${r.secrets.join(', ')}`);
    console.log(`  ✘ ${label(job)} printed what looks like a secret (a token in a log line?): ${r.secrets.join(', ')}`);
  }
  if (r.warnings.length) {
    nodeWarnings.push(`${label(job)}: ${r.warnings.join(' | ')}`);
    console.log(`  ✘ ${label(job)}: Node warned: ${r.warnings.join(' | ')}`);
  }
}

async function runAll(jobs: string[][], concurrency: number): Promise<void> {
  const queue = [...jobs];
  const held = concurrency > 1 && jobs.length > 1;
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      if (held) console.log(`▸ ${label(job)} started`);
      else console.log(`\n── ${label(job)} ──`);
      const r = await runJob(job, { live: !held, limitMs: LIMIT_MS });
      report(job, r, held);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}

const t0 = performance.now();
await runAll(parallel, JOBS);
const parallelMs = performance.now() - t0;
await runAll(alone, 1);
const failedFirst = results.filter((f) => f.failed && !f.name.startsWith('unit/'));
if (RETRIES && failedFirst.length) console.log(`\n${failedFirst.length} end-to-end file(s) failed; each runs once more, alone: ${failedFirst.map((f) => f.name).join(', ')}`);
const { results: finalResults, flaky } = await rerunFailed(results, RETRIES, async (name, attempt) => {
  console.log(`\n── ${name} (run ${attempt}) ──`);
  const before = results.length;
  report([name], await runJob([name], { live: true, limitMs: LIMIT_MS }), false);
  return results.splice(before)[0];
});
results.splice(0, results.length, ...finalResults);
const totalMs = performance.now() - t0;

const passed = results.reduce((n, f) => n + f.passed, 0);
const failed = results.reduce((n, f) => n + f.failed, 0);
const skipped = results.flatMap((f) => f.skipped.map((s) => `${f.name} › ${s.test}: ${s.reason}`));
const failing = results.filter((f) => f.failed).map((f) => f.name);
const slowest = [...results].sort((a, b) => b.durationMs - a.durationMs).slice(0, 5);
const shared = parallel.reduce((n, job) => n + job.length, 0);
console.log(`\n${results.length} file${results.length === 1 ? '' : 's'} in ${sec(totalMs)}: ${shared} with up to ${JOBS} process${JOBS === 1 ? "" : "es"} at a time (${sec(parallelMs)}), then ${alone.length} one by one (${sec(totalMs - parallelMs)})`);
console.log(`slowest: ${slowest.map((f) => `${f.name} ${sec(f.durationMs)}`).join(', ')}`);
const slowestTests = results.flatMap((f) => f.steps.map((x) => ({ ...x, file: f.name }))).filter((x) => x.ms >= 1000).sort((a, b) => b.ms - a.ms).slice(0, 5);
if (slowestTests.length) console.log(`slowest tests: ${slowestTests.map((x) => `${x.file} › ${short(x.what)} ${sec(x.ms)}`).join(', ')}`);
if (skipped.length) console.log(`skipped:\n  ${skipped.join('\n  ')}`);
if (failing.length) console.log(`failing: ${failing.join(', ')}`);
// Why, again at the end: a CI log often keeps only its tail.
for (const f of results) {
  for (const x of f.failures) console.log(`  ✘ ${f.name} › ${x.test}\n      ${x.error.split('\n').join('\n      ')}`);
  if (f.problem) console.log(`  ✘ ${f.name}: ${f.problem.split('\n').slice(0, 8).join('\n  ')}`);
}
for (const f of flaky) console.log(describeFlaky(f));
const mismatches = fs.existsSync(mismatchFile) ? [...new Set(fs.readFileSync(mismatchFile, 'utf8').split('\n').filter(Boolean))] : [];
fs.rmSync(mismatchFile, { force: true });
if (mismatches.length) console.log(`✘ ${mismatches.length} response(s) that do not match /openapi.json:\n  ${mismatches.slice(0, 20).join('\n  ')}`);
if (nodeWarnings.length) console.log(`✘ Node warnings in the output of ${nodeWarnings.length} file(s):\n  ${nodeWarnings.join('\n  ')}`);
if (secretLeaks.length) console.log(`✘ secrets in the output of ${secretLeaks.length} file(s) (logs must mask them):\n  ${secretLeaks.join('\n  ')}`);
console.log(
  `${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ''}${flaky.length ? `, ${flaky.length} flaky file(s) (${flaky.map((f) => f.name).join(', ')})` : ''}${mismatches.length ? `; ${mismatches.length} response mismatch(es)` : ''}${secretLeaks.length ? `; secrets printed by ${secretLeaks.length} file(s)` : ''}${nodeWarnings.length ? `; Node warnings in ${nodeWarnings.length} file(s)` : ''}`,
);
process.exit(failed || mismatches.length || secretLeaks.length || nodeWarnings.length ? 1 : 0);
