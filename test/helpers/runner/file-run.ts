// The runner's side of one child process (child.ts): spawns it for one or more test files,
// reads its marks (fd 3), and turns them, its exit and its stderr into each file's result. A
// child that dies, hangs or exits without its summary is reported with its exit code or signal,
// what it was running and the tail of its stderr, never as an anonymous failure.

import { spawn, type ChildProcess } from 'node:child_process';
import { MARKS_FD_ENV, type Mark } from './marks.ts';

export interface FileResult {
  name: string;
  passed: number;
  failed: number;
  skipped: Array<{ test: string; reason: string }>;
  /** Each failed test or hook with the first lines of what it threw. */
  failures: Array<{ test: string; error: string }>;
  /** What its tests left open at the end (closed by the child before it exited). */
  leftOpen: string[];
  /** Each test's and hook's wall time, slowest first (from the marks: a start to its outcome, a hook to the next mark). */
  steps: Array<{ what: string; ms: number }>;
  durationMs: number;
  /** CPU time of its process and what that process reaped (a job of one file; else undefined). */
  cpuMs?: number;
  /** Why the process's end is a failure of this file (a crash, a hang, a silent exit), or null. */
  problem: string | null;
}

export interface JobResult {
  files: FileResult[];
  /** stdout and stderr as they came (for a job whose output was held back). */
  output: string;
  /** Secrets (JWTs, bearer tokens, unmasked token parameters) seen in its output, masked. */
  secrets: string[];
  /** Node's own warnings in its output (a listener leak, a deprecation), e.g. "MaxListenersExceededWarning: …". */
  warnings: string[];
  wallMs: number;
}

// What must never appear in a test run's output (its servers log to it): the log masks these.
// "(node:1234) MaxListenersExceededWarning: Possible EventTarget memory leak detected. …"
const NODE_WARNING_RE = /\(node:\d+\) (\w*Warning): ([^\n]{0,100})/g;
const SECRET_RE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}|\bBearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}|\baccess_token=(?!\*\*\*)[^&\s'"]{8,}/g;

export interface JobOptions {
  /** Stream the child's output as it comes; otherwise keep it in `output`. */
  live: boolean;
  limitMs: number;
  stderrTail?: number;
}

interface FileState {
  outcomes: Map<string, Mark & { ev: 'pass' | 'fail' | 'skip' }>;
  leftOpen: string[];
  steps: Array<{ what: string; ms: number }>;
  registered: number;
  firstAt: number;
  lastAt: number;
}

const signalOrCode = (code: number | null, signal: string | null) => (signal ? `was killed by ${signal}` : `exited with code ${code}`);

function describeActivity(m: Mark | null): string {
  if (!m || (m.ev !== 'hook' && m.ev !== 'start')) return 'while loading the file (no test had started)';
  const suite = m.suite ? `suite "${m.suite}"` : 'the file';
  if (m.ev === 'start') return `in test "${m.test}" of ${suite}`;
  return `in the ${m.hook} hook of ${suite}${m.test ? ` (test "${m.test}")` : ''}`;
}

/** The children running now (the runner ends them when it is interrupted). */
export const liveChildren = new Set<ChildProcess>();

export async function runJob(names: string[], o: JobOptions): Promise<JobResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', '--one', ...names], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, [MARKS_FD_ENV]: '3', ...(process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: '1' } : {}) },
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  let output = '';
  let stderr = '';
  const secrets: string[] = [];
  const warnings: string[] = [];
  // A secret split across two chunks is still seen (the last 300 characters are searched again);
  // a match is counted once, by where it starts in the stream.
  let carry = '';
  let total = 0;
  const counted = new Set<number>();
  const emit = (d: Buffer, to: NodeJS.WriteStream) => {
    const text = carry + d.toString();
    const textStart = total - carry.length;
    total += text.length - carry.length;
    const scan = (re: RegExp, out: string[], show: (m: RegExpMatchArray) => string) => {
      for (const m of text.matchAll(re)) {
        const at = textStart + m.index!;
        if (counted.has(at) || out.length >= 5) continue;
        counted.add(at);
        out.push(show(m));
      }
    };
    scan(SECRET_RE, secrets, (m) => `${m[0].slice(0, 12)}…`);
    scan(NODE_WARNING_RE, warnings, (m) => `${m[1]}: ${m[2]}`);
    carry = text.slice(-300);
    if (o.live) to.write(d);
    else output += d;
  };
  child.stdout!.on('data', (d: Buffer) => emit(d, process.stdout));
  child.stderr!.on('data', (d: Buffer) => {
    emit(d, process.stderr);
    stderr = (stderr + d).slice(-64 * 1024);
  });

  const files = new Map<string, FileState>(names.map((n) => [n, { outcomes: new Map(), leftOpen: [], steps: [], registered: 0, firstAt: 0, lastAt: 0 }]));
  let activity: Mark | null = null;
  /** The test or hook running since `at` (its time ends at the next mark). */
  let timing: { m: Extract<Mark, { ev: 'hook' | 'start' }>; at: number } | null = null;
  let activeFile = names[0];
  let done = false;
  let cpuMs: number | undefined;
  let partial = '';
  const onMark = (m: Mark) => {
    if (m.ev === 'done') return void ((done = true), (cpuMs = m.cpuMs));
    const f = files.get(m.file);
    if (!f) return;
    activeFile = m.file;
    if (m.ev === 'suite') return void (f.registered += m.tests); // at import, before any test runs
    if (m.ev === 'left-open') return void f.leftOpen.push(`${m.what} opened in ${m.where || 'the file itself'}`);
    const now = performance.now();
    f.firstAt ||= now;
    f.lastAt = now;
    // What ran until now: a test (its start to its outcome) or a hook (to the next mark).
    if (timing) {
      const t = timing.m;
      const what = t.ev === 'start' ? t.test : `${t.hook} hook${t.test ? ` of "${t.test}"` : ` of ${t.suite ? `suite "${t.suite}"` : 'the file'}`}`;
      files.get(t.file)?.steps.push({ what, ms: now - timing.at });
    }
    timing = m.ev === 'hook' || m.ev === 'start' ? { m, at: now } : null;
    if (m.ev === 'hook' || m.ev === 'start') activity = m;
    else f.outcomes.set(`${m.suite}\0${m.test}\0${m.ev === 'fail' && !m.test ? m.hook : ''}`, m);
  };
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      try {
        if (l) onMark(JSON.parse(l));
      } catch {
        /* not a mark: fd 3 is the runner's alone, but a test could write to it */
      }
    }
  });

  let timedOut = false;
  const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), o.limitMs);
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  // The last output and marks, unless something it spawned still holds its stdout open.
  await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
  const wallMs = performance.now() - started;

  const results: FileResult[] = names.map((name) => {
    const f = files.get(name)!;
    const outcomes = [...f.outcomes.values()];
    return {
      name,
      passed: outcomes.filter((x) => x.ev === 'pass').length,
      failed: outcomes.filter((x) => x.ev === 'fail').length,
      skipped: outcomes.flatMap((x) => (x.ev === 'skip' ? [{ test: x.test, reason: x.reason }] : [])),
      failures: outcomes.flatMap((x) => (x.ev === 'fail' ? [{ test: x.hook ? `${x.hook} hook${x.test ? ` of "${x.test}"` : ''}` : x.test, error: x.error ?? '' }] : [])),
      leftOpen: f.leftOpen,
      steps: f.steps.sort((a, b) => b.ms - a.ms),
      durationMs: names.length === 1 ? wallMs : f.lastAt - f.firstAt,
      cpuMs: names.length === 1 ? cpuMs : undefined,
      problem: null,
    };
  });

  const tail = stderr.trimEnd().split('\n').slice(-(o.stderrTail ?? 20)).map((l) => `      | ${l}`).join('\n');
  const withTail = (s: string) => (stderr.trim() ? `${s}\n    last lines of its stderr:\n${tail}` : `${s}\n    (nothing on its stderr)`);
  const anyFailed = results.some((r) => r.failed > 0);
  if (!done) {
    const how = timedOut ? `was killed after ${Math.round(o.limitMs / 1000)} s (time limit)` : signalOrCode(code, signal);
    const at = results.findIndex((r) => r.name === activeFile);
    const f = files.get(activeFile)!;
    const notRun = Math.max(0, f.registered - f.outcomes.size);
    results[at].failed++;
    results[at].problem = withTail(
      `the process ${how} before uvu's summary, ${describeActivity(activity)}` + (notRun ? `\n    ${notRun} of its ${f.registered} tests did not finish` : ''),
    );
    const rest = results.slice(at + 1);
    for (const r of rest) r.failed++;
    if (rest.length) results[at].problem += `\n    not run, so counted as failed: ${rest.map((r) => r.name).join(', ')}`;
  } else if (signal || (code !== 0 && !anyFailed)) {
    // Every result is on record; the process failed on its way out (a native module's teardown,
    // e.g. @roamhq/wrtc with a peer connection left open). A failure of the last file, as what it is.
    const last = results[results.length - 1];
    last.failed++;
    last.problem = withTail(`its tests finished and uvu printed its summary, then the process ${signalOrCode(code, signal)} while exiting (a native module's teardown? close what the tests opened in their after hooks)`);
  }
  return { files: results, output, secrets, warnings, wallMs };
}
