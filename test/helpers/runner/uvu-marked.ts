// uvu as the runner's children see it (test files' `from 'uvu'` resolves here; see
// resolve-hooks.mjs): the same suites and output, plus a mark at each hook and test start and
// each outcome, so a process that dies says where; and skip() from test/helpers/skip.ts, which
// turns the running test (or, called in a `before` hook, its whole suite) into a skip.

import * as uvu from 'uvu';
import { current, mark } from './marks.ts';

type Ctx = Record<string, any>;
type Callback<T> = uvu.Callback<T>;

interface Running {
  file: string;
  suite: string;
  test: string;
  phase: 'before' | 'test';
  skipped: string | null;
}

let running: Running | null = null;
const suiteSkips = new Map<string, string>();
const key = (file: string, suite: string) => `${file}\0${suite}`;

/** The file being imported: uvu/run sets UVU_INDEX before importing each one (child.ts). */
function currentFile(): string {
  const g = globalThis as any;
  return (g.__mcuTestFiles as string[] | undefined)?.[g.UVU_INDEX ?? 0] ?? '';
}

(globalThis as any)[Symbol.for('mcu.test.skip')] = (reason: string) => {
  if (!running) return;
  if (running.phase === 'before') suiteSkips.set(key(running.file, running.suite), reason);
  else running.skipped = reason;
};

/** What was thrown, short: its message's first lines (an assertion's message and its values). */
function firstLines(err: unknown): string {
  const text = err instanceof Error ? `${err.name === 'Assertion' || err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return text.split('\n').slice(0, 6).join('\n').slice(0, 800);
}

function wrapTest<T>(file: string, suite: string, test: string, handler: Callback<T>): Callback<T> {
  return async (ctx) => {
    const suiteSkip = suiteSkips.get(key(file, suite));
    if (suiteSkip !== undefined) return mark({ ev: 'skip', file, suite, test, reason: suiteSkip });
    mark({ ev: 'start', file, suite, test });
    Object.assign(current, { file, where: `test "${test}"` });
    const me: Running = (running = { file, suite, test, phase: 'test', skipped: null });
    try {
      await handler(ctx);
    } catch (err) {
      mark({ ev: 'fail', file, suite, test, error: firstLines(err) });
      throw err;
    } finally {
      if (running === me) running = null;
    }
    mark(me.skipped === null ? { ev: 'pass', file, suite, test } : { ev: 'skip', file, suite, test, reason: me.skipped });
  };
}

function wrapHook<T>(file: string, suite: string, hook: string, fn: Callback<T>): Callback<T> {
  return async (ctx) => {
    const test = (ctx as any)?.__test__ ?? '';
    mark({ ev: 'hook', file, suite, hook, test });
    Object.assign(current, { file, where: `the ${hook} hook of ${suite ? `suite "${suite}"` : 'the file'}` });
    const me: Running | null = hook === 'before' ? (running = { file, suite, test: '', phase: 'before', skipped: null }) : null;
    try {
      await fn(ctx);
    } catch (err) {
      mark({ ev: 'fail', file, suite, test, hook, error: firstLines(err) });
      // uvu swallows a failing `before` hook (its suite just reports 0 passed) and a failing
      // `after` hook ends the process without a word; say what failed.
      if (hook === 'before' || hook === 'after') console.error(`\n  ✘ the ${hook} hook of ${suite || file} failed:`, err);
      throw err;
    } finally {
      if (me && running === me) running = null;
    }
  };
}

function wrapSuite<T>(real: uvu.Test<T>, name: string): uvu.Test<T> {
  let count = 0;
  const register = (fn: (n: string, h: Callback<T>) => void) => (test: string, handler: Callback<T>) => {
    count++;
    fn(test, wrapTest(currentFile(), name, test, handler));
  };
  const hook = (fn: (h: Callback<T>) => void, hookName: string) => (h: Callback<T>) => fn(wrapHook(currentFile(), name, hookName, h));
  const before = Object.assign(hook(real.before, 'before'), { each: hook(real.before.each, 'before.each') });
  const after = Object.assign(hook(real.after, 'after'), { each: hook(real.after.each, 'after.each') });
  return Object.assign(register(real), {
    only: register(real.only),
    skip: real.skip,
    before,
    after,
    run() {
      mark({ ev: 'suite', file: currentFile(), suite: name, tests: count });
      count = 0;
      real.run();
    },
  });
}

export const suite = <T = Ctx>(title = '', context?: T): uvu.Test<T> => wrapSuite(uvu.suite<T>(title, context), title);
export const test: uvu.Test<Ctx> = wrapSuite(uvu.test, '');
export const exec = uvu.exec;
