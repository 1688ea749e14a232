// A second run for end-to-end files that failed. Their tests drive real FFmpeg, real peers and
// real timers on a small shared box, and a file that fails once in many runs is a finding to
// chase, not a reason to refuse everything else. A file that fails again fails the run; one that
// passes the second time is returned as flaky with what its first run said, so the flake is on
// record at the end of the log, never silent. Unit files are pure: they get no second run.

import type { FileResult } from './file-run.ts';

export interface Rerun {
  /** The results with each rerun file's first result replaced by its last. */
  results: FileResult[];
  /** First runs of the files that passed when run again. */
  flaky: FileResult[];
}

/** Runs each failed non-unit file in `results` again, up to `retries` times, one at a time. */
export async function rerunFailed(results: FileResult[], retries: number, runOne: (name: string, attempt: number) => Promise<FileResult>): Promise<Rerun> {
  const out = [...results];
  const flaky: FileResult[] = [];
  for (let attempt = 2; attempt <= retries + 1; attempt++) {
    for (const [i, r] of out.entries()) {
      if (!r.failed || r.name.startsWith('unit/')) continue;
      const again = await runOne(r.name, attempt);
      out[i] = again;
      // What the file's first run said (results[i]), whichever later run passed.
      if (!again.failed) flaky.push(results[i]);
    }
  }
  return { results: out, flaky };
}

/** What the end of the log says about a flaky file. */
export function describeFlaky(f: FileResult): string {
  const said = f.failures.map((x) => `      ${x.test}: ${x.error.split('\n').slice(0, 6).join('\n        ')}`);
  if (f.problem) said.push(`      ${f.problem.split('\n').slice(0, 6).join('\n      ')}`);
  return [`  ⚠ flaky: ${f.name} failed, then passed when run again alone; its first run said:`, ...said].join('\n');
}
