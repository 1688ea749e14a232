// The error catalogue (pipeline/errors.ts): every code has an HTTP error status and a title,
// the factories carry their code's status, and no file outside the catalogue and the one
// middleware names a code as a string literal when it makes an error.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as errors from '../../pipeline/errors.ts';
import { ERROR_CATALOGUE, McuError } from '../../pipeline/errors.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

test('every code has an error status and a title', () => {
  for (const [code, { status, title }] of Object.entries(ERROR_CATALOGUE)) {
    assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
    assert.ok(title.length > 0, code);
  }
});

test('factories make McuErrors whose status is their code’s', () => {
  let n = 0;
  for (const [name, f] of Object.entries(errors)) {
    if (typeof f !== 'function' || name === 'McuError' || name === 'sdpProblem') continue;
    const err = (f as (m: string, x?: any) => unknown)('detail', 'GET');
    assert.instance(err, McuError, name);
    const e = err as McuError;
    assert.is(e.status, ERROR_CATALOGUE[e.code].status, name);
    assert.is(e.message, 'detail', name);
    n++;
  }
  assert.ok(n >= 15, `${n} factories`);
});

test('sdpProblem: 406 for an offer we cannot serve, 400 for a broken one', () => {
  const kind = (k: string) => Object.assign(new Error('x'), { kind: k });
  assert.is((errors.sdpProblem(kind('unsupported')) as McuError).status, 406);
  assert.is((errors.sdpProblem(kind('invalid')) as McuError).status, 400);
});

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'static' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('no string literal error codes at throw sites', () => {
  const allowed = new Set(['pipeline/errors.ts', 'server/http/problems.ts']);
  const offenders: string[] = [];
  for (const top of ['server', 'workers', 'pipeline']) {
    for (const file of sources(path.join(ROOT, top))) {
      const rel = path.relative(ROOT, file);
      if (allowed.has(rel)) continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new McuError\(\s*['"`]|sendProblem\([^,]+,\s*['"`]/g)) offenders.push(`${rel}: ${m[0]}`);
    }
  }
  assert.equal(offenders, []);
});

test.run();
