// Loads one of the project's optional N-API addons (native/<name>, built by `npm ci`): once, and
// null when it is not built, does not load, or its switch says not to, so that the caller falls
// back to its JavaScript path.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { projectPath } from './paths.ts';

/** A loader for native/<name>/build/Release/<name>.node; `off()`: the fallback is asked for. */
export function optionalAddon<T>(name: string, off: () => boolean = () => false): () => T | null {
  const file = projectPath('native', name, 'build', 'Release', `${name}.node`);
  let addon: T | null | undefined;
  return () => {
    if (addon !== undefined) return addon;
    addon = null;
    if (off() || !fs.existsSync(file)) return null;
    try {
      addon = createRequire(import.meta.url)(file) as T;
    } catch {
      /* stays null: the caller's fallback */
    }
    return addon;
  };
}
