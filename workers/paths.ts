// Where the project's own files are (static pages, scripts, models), whether this code runs
// from its TypeScript sources (tsx) or from the bundle `npm run build` writes into dist/:
// the project root is the nearest directory above this module that holds package.json.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function projectRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  root = dir;
  return root;
}

/** A path inside the project, e.g. projectPath('server', 'static'). */
export function projectPath(...parts: string[]): string {
  return path.join(projectRoot(), ...parts);
}
