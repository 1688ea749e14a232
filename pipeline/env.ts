// Reading configuration from an environment (pure: the caller passes the environment).

/** An integer setting in [min, max]; unset or empty → `fallback`; anything else throws, naming it. */
export function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return v;
}
