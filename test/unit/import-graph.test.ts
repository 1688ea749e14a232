// The shape of the tree: server/ → workers/ → pipeline/, nothing runs back up out of pipeline/,
// and no import circle anywhere (type-only imports count: a circle of types is still two files
// that cannot be read, moved or tested one without the other).

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TOPS = ['server', 'workers', 'pipeline'];
/** Node built-ins pipeline/ may use: pure computations, no I/O. */
const PIPELINE_BUILTINS = new Set(['node:crypto', 'node:net', 'node:buffer']);

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module specifier a file names: import/export … from, bare import, dynamic import(). */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of code.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const top of TOPS) {
    for (const file of sources(path.join(ROOT, top))) {
      const rel = path.relative(ROOT, file);
      const deps = specifiers(fs.readFileSync(file, 'utf8'))
        .filter((s) => s.startsWith('.'))
        .map((s) => path.relative(ROOT, path.resolve(path.dirname(file), s)));
      g.set(rel, deps);
    }
  }
  return g;
}

/** Strongly connected components with more than one file (or a file importing itself). */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

test('specifiers finds static, type-only, re-export, bare and dynamic imports', () => {
  const found = specifiers(`
    import a from './a.ts';
    import type { B } from "./b.ts";
    import {
      c,
    } from './c.ts';
    export { d } from './d.ts';
    export * from './e.ts';
    import './f.ts';
    const g = await import('./g.ts');
    // import { no } from './commented.ts';
  `);
  assert.equal(found, ['./a.ts', './b.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
});

test('the cycle finder finds a circle and only the circle', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a', 'd']],
    ['d', []],
  ]);
  assert.equal(cycles(g), [['a', 'b', 'c']]);
});

test('every relative import resolves to a file', () => {
  const missing: string[] = [];
  const g = graph();
  for (const [file, deps] of g) for (const d of deps) if (!fs.existsSync(path.join(ROOT, d))) missing.push(`${file} → ${d}`);
  assert.equal(missing, []);
});

test('no import circle in server/, workers/, pipeline/', () => {
  assert.equal(cycles(graph()), [], 'files importing each other, directly or around a circle');
});

test('pipeline/ imports nothing outside pipeline/ (relative) and no I/O built-in or package', () => {
  const leaks: string[] = [];
  for (const file of sources(path.join(ROOT, 'pipeline'))) {
    const rel = path.relative(ROOT, file);
    for (const s of specifiers(fs.readFileSync(file, 'utf8'))) {
      if (s.startsWith('.')) {
        const target = path.relative(ROOT, path.resolve(path.dirname(file), s));
        if (!target.startsWith(`pipeline${path.sep}`)) leaks.push(`${rel} → ${target}`);
      } else if (!PIPELINE_BUILTINS.has(s)) leaks.push(`${rel} → ${s}`);
    }
  }
  assert.equal(leaks, []);
});

test('pipeline/ reads no process state (process.env, pid, argv…): the caller passes it in', () => {
  const reads: string[] = [];
  for (const file of sources(path.join(ROOT, 'pipeline'))) {
    const code = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const m of code.matchAll(/\bprocess\.\w+/g)) reads.push(`${path.relative(ROOT, file)}: ${m[0]}`);
  }
  assert.equal(reads, []);
});

test('the server uses no demo/test client code (workers/clients/), except the demo itself', () => {
  const leaks: string[] = [];
  for (const [file, deps] of graph()) {
    if (!file.startsWith(`server${path.sep}`) || file === path.join('server', 'demo.ts')) continue;
    for (const d of deps) if (d.startsWith(path.join('workers', 'clients') + path.sep)) leaks.push(`${file} → ${d}`);
  }
  assert.equal(leaks, []);
});

test.run();
