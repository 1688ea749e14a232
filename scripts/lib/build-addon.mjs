// Builds one of the project's N-API addons (native/<name> → native/<name>/build/Release/<name>.node)
// against a Debian library, with the node-gyp that ships with npm and the installed Node's
// headers. Skips when up to date (or without --force). A build that cannot happen is reported
// with what to install and what the server does without the addon, and never fails `npm ci`.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param {{ name: string, what: string, header: string, pkg: string, without: string }} addon
 *   name: directory under native/ (and the .node file); what: the addon in a few words;
 *   header: a header of the library it needs; pkg: the Debian package holding it;
 *   without: what happens when it is missing.
 */
export function buildAddon({ name, what, header, pkg, without }) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const dir = path.join(root, 'native', name);
  const out = path.join(dir, `build/Release/${name}.node`);
  const sources = [path.join(dir, 'binding.gyp'), ...fs.readdirSync(path.join(dir, 'src')).map((f) => path.join(dir, 'src', f))];
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (!process.argv.includes('--force') && fs.existsSync(out) && fs.statSync(out).mtimeMs >= newest) return;

  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const gyp = [
    process.env.npm_config_node_gyp,
    path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].find((p) => p && fs.existsSync(p));
  const nodedir = fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
  const tag = `[build:${name}]`;
  const giveUp = (why) => {
    console.error(`\n${tag} the ${what} addon was NOT built: ${why}`);
    console.error(`${tag} ${without}: run \`bash scripts/setup.sh\` (${pkg}) then \`npm run build:${name}\`.\n`);
  };
  if (!gyp) return giveUp('node-gyp (bundled with npm) not found');
  if (!fs.existsSync(header)) return giveUp(`${pkg} is not installed (${header})`);
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--directory=${dir}`, ...nodedir, '--loglevel=warn'], { stdio: 'inherit', cwd: dir });
  if (r.status !== 0) return giveUp(`node-gyp exited with ${r.status}`);
  console.log(`${tag} built ${path.relative(root, out)}`);
}
