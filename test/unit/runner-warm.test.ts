// The runner's warm start (test/helpers/runner/warm.ts) loads a test file's static imports, in
// its order, and nothing else of it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { staticImports } from '../helpers/runner/warm.ts';

test('static value imports in order: default, named over lines, namespace, side effect', () => {
  const src = [
    "import { test } from 'uvu';",
    "import * as assert from 'uvu/assert';",
    'import fs from "node:fs";',
    'import {',
    '  startServer,',
    '  type RunningServer,',
    "} from '../../server/main.ts';",
    "import '../helpers/side-effect.ts';",
    "import wrtc, { nonstandard as ns } from '@roamhq/wrtc';",
  ].join('\n');
  assert.equal(staticImports(src), ['uvu', 'uvu/assert', 'node:fs', '../../server/main.ts', '../helpers/side-effect.ts', '@roamhq/wrtc']);
});

test('left out: type-only imports, dynamic imports, imports inside code', () => {
  const src = [
    "import type { Mark } from './marks.ts';",
    "const { startServer } = await import('../../server/main.ts');",
    "  import('./lazy.ts');",
    "const s = `import x from 'not-code'`;",
  ].join('\n');
  assert.equal(staticImports(src), []);
});

test.run();
