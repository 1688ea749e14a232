// The test runner itself (test/run.ts, test/helpers/runner/): a child that dies is reported with
// its signal or exit code, the test or hook it was in and its stderr; skips are counted apart;
// a crash after the summary is a failure that says so. Light: no media, a few node processes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runJob } from '../helpers/runner/file-run.ts';
import { describeFlaky, rerunFailed } from '../helpers/runner/retry.ts';

const opts = { live: false, limitMs: 60_000 };

test('a process killed mid-test: signal, the test it was in, its stderr, what did not run', async () => {
  const [f] = (await runJob(['fixtures/runner/crash.ts'], opts)).files;
  assert.is(f.passed, 1);
  assert.equal(f.skipped, [{ test: 'skips', reason: 'no such binary here' }]);
  assert.is(f.failed, 1);
  assert.match(f.problem ?? '', /killed by SIGSEGV before uvu's summary, in test "dies"/);
  assert.match(f.problem ?? '', /2 of its 4 tests did not finish/);
  assert.match(f.problem ?? '', /about to die: a native crash/);
});

test('a suite skipped from its before hook; an after hook that exits: its code and the hook', async () => {
  const [f] = (await runJob(['fixtures/runner/hooks.ts'], opts)).files;
  assert.equal(f.skipped, [{ test: 'would fail', reason: 'not root' }]);
  assert.is(f.passed, 1);
  assert.is(f.failed, 2, 'the failing test and the death');
  assert.match(f.problem ?? '', /exited with code 3 before uvu's summary, in the after hook of suite "dying after"/);
});

test('a crash after the summary is a failure, reported as a crash at exit', async () => {
  const [f] = (await runJob(['fixtures/runner/exit.ts'], opts)).files;
  assert.is(f.passed, 1);
  assert.is(f.failed, 1);
  assert.match(f.problem ?? '', /printed its summary, then the process was killed by SIGABRT while exiting/);
});

test('files in one process: the one that dies is named, those after it count as not run', async () => {
  const r = await runJob(['fixtures/runner/exit.ts', 'fixtures/runner/crash.ts', 'fixtures/runner/hooks.ts'], opts);
  const [exit, crash, hooks] = r.files;
  assert.is(exit.failed, 0, 'the exit crash never happens: the process dies before');
  assert.match(crash.problem ?? '', /in test "dies"/);
  assert.match(crash.problem ?? '', /not run, so counted as failed: fixtures\/runner\/hooks\.ts/);
  assert.is(hooks.failed, 1);
});

test('each test and hook is timed, slowest first', async () => {
  const [f] = (await runJob(['fixtures/runner/timed.ts'], opts)).files;
  assert.is(f.passed, 3);
  assert.equal(f.steps.slice(0, 3).map((x) => x.what), ['slow', 'middling', 'before hook of suite "timed"']);
  const ms = Object.fromEntries(f.steps.map((x) => [x.what, x.ms]));
  assert.ok(ms.slow >= 590 && ms.slow < 3000 && ms.middling >= 290 && ms.quick < 200, JSON.stringify(f.steps));
});

test('a file over its time limit is killed, and the test it hung in is named', async () => {
  const [f] = (await runJob(['fixtures/runner/hang.ts'], { live: false, limitMs: 3000 })).files;
  assert.is(f.passed, 1);
  assert.is(f.failed, 1);
  assert.match(f.problem ?? '', /killed after 3 s \(time limit\) before uvu's summary, in test "hangs"/);
});

test('a wrtc peer connection left open is named and closed before the process exits', async () => {
  const [f] = (await runJob(['fixtures/runner/left-open.ts'], opts)).files;
  assert.is(f.passed, 2);
  assert.equal(f.leftOpen, ['a wrtc peer connection opened in test "opens and forgets"']);
  assert.is(f.problem, null, 'and the process exits cleanly');
});

test('a token printed by a test (a server logging it) is reported, even split over two writes; a masked one is not; so is a Node warning', async () => {
  const r = await runJob(['fixtures/runner/leak.ts'], opts);
  assert.is(r.files[0].passed, 1);
  assert.equal(r.secrets, ['Bearer abcde…']);
  assert.is(r.warnings.length, 1);
  assert.match(r.warnings[0], /^MaxListenersExceededWarning: Possible EventTarget memory leak/);
  const clean = await runJob(['fixtures/runner/exit.ts'], opts);
  assert.equal(clean.secrets, []);
  assert.equal(clean.warnings, []);
});

test('a failed end-to-end file runs again: passing then is flaky, with its first words; failing again fails; unit files get no second run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-runner-'));
  process.env.FLAKY_MARKER = path.join(dir, 'ran');
  try {
    const runs: string[] = [];
    const runOne = async (name: string) => (runs.push(name), (await runJob([name], opts)).files[0]);
    const first = [(await runJob(['fixtures/runner/flaky.ts'], opts)).files[0], (await runJob(['fixtures/runner/hang.ts'], { live: false, limitMs: 3000 })).files[0]];
    assert.is(first[0].failed, 1, 'the flaky fixture fails its first run');
    const unitFailure = { ...first[0], name: 'unit/pure.test.ts' };
    const r = await rerunFailed([...first, unitFailure], 1, (name) => (name === 'fixtures/runner/hang.ts' ? runJob([name], { live: false, limitMs: 3000 }).then((x) => x.files[0]) : runOne(name)));
    assert.equal(runs, ['fixtures/runner/flaky.ts'], 'the unit file is not run again');
    assert.is(r.results[0].failed, 0, 'passed the second time');
    assert.is(r.results[1].failed, 1, 'the hanging file fails again: the run fails');
    assert.is(r.results[2].failed, 1, 'the unit failure stands');
    assert.equal(r.flaky.map((f) => f.name), ['fixtures/runner/flaky.ts']);
    assert.match(describeFlaky(r.flaky[0]), /flaky: fixtures\/runner\/flaky\.ts failed, then passed[\s\S]*266 ms without a frame/);
  } finally {
    delete process.env.FLAKY_MARKER;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with two more runs, a file that passes on its third is flaky with its first run\'s words', async () => {
  const result = (name: string, failed: number, error: string) => ({ name, passed: 1 - failed, failed, skipped: [], failures: failed ? [{ test: 't', error }] : [], leftOpen: [], steps: [], durationMs: 1, problem: null });
  let n = 0;
  const r = await rerunFailed([result('e2e/x.test.ts', 1, 'first words')], 2, async (name) => result(name, ++n < 2 ? 1 : 0, `run ${n + 1}`));
  assert.is(n, 2);
  assert.is(r.results[0].failed, 0);
  assert.equal(r.flaky.map((f) => f.failures[0].error), ['first words']);
});

test.run();
