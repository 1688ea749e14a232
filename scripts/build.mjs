// npm run build: plain JavaScript for production (`npm ci --omit=dev && npm run build &&
// npm run start:prod`). esbuild (a runtime dependency) bundles each entry point with its
// own modules; npm packages stay external (node_modules). Files the code reads at run time
// (pages, scripts, models) are found from the project root, so the bundles sit in dist/.
import { build } from 'esbuild';

const entries = {
  server: 'server/main.ts',
  recorder: 'workers/recorder/main.ts',
  token: 'scripts/token.ts',
};

await build({
  entryPoints: entries,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
await build({
  entryPoints: ['web/room.ts', 'web/index.ts'],
  outdir: 'server/static',
  bundle: true,
  format: 'esm',
  target: 'es2020',
  logLevel: 'warning',
});
console.log(`built ${Object.keys(entries).map((k) => `dist/${k}.mjs`).join(', ')} and the pages`);
