// The pictures in docs/ (docs/*.png, docs/layouts/*.png) are taken by the e2e tests that show
// them, but written only by `npm run docs:screens` (MCU_DOCS_SCREENS=1): an ordinary test run
// leaves the tree as it was. Tests name their picture here, never a docs/ path of their own.

import fs from 'node:fs';
import path from 'node:path';
import { projectPath } from '../../workers/paths.ts';

/** Where to write the picture `name` (e.g. 'layouts/grid.png'), or null on an ordinary run. */
export function docsScreenPath(name: string): string | null {
  if (process.env.MCU_DOCS_SCREENS !== '1') return null;
  const file = projectPath('docs', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return file;
}
