// Processes this test process started (an in-process server's FFmpegs included), read from
// /proc: what `ps` shows any local user.

import fs from 'node:fs';

/** Every descendant of this process (the server runs in it): pid → command line. */
export function descendants(): Map<number, string> {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = new Map<number, string>();
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (mine.has(ppid) && !mine.has(pid)) {
        mine.add(pid);
        grew = true;
        try {
          out.set(pid, fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim());
        } catch {
          /* gone */
        }
      }
    }
  }
  return out;
}
