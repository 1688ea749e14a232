// A push target that passed the rules (pipeline/net/pushTargets.ts): checked when the push is
// asked for (400 otherwise), and again before every connection, when its host is resolved,
// every address checked and the one connected to pinned, so DNS rebinding cannot steer a
// push into the server's own network between the check and the connection.

import dns from 'node:dns/promises';
import { badRequest } from '../../pipeline/errors.ts';
import { isIpLiteral } from '../../pipeline/net/addresses.ts';
import { describeTarget, parsePushUrl, targetRefusal, type AllowRule, type PushTarget } from '../../pipeline/net/pushTargets.ts';

const LOOKUP_TIMEOUT_MS = 5000;

async function resolve(host: string): Promise<string[]> {
  if (isIpLiteral(host)) return [host];
  let timer: NodeJS.Timeout | undefined;
  try {
    const answers = await Promise.race([
      dns.lookup(host, { all: true, verbatim: true }),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('DNS timeout')), LOOKUP_TIMEOUT_MS))),
    ]);
    return answers.map((a) => a.address);
  } catch {
    return [];
  } finally {
    clearTimeout(timer);
  }
}

/** Thrown by pin() when the host now resolves outside the rules. */
export class TargetRefused extends Error {}

export class StreamTarget {
  private constructor(
    readonly target: PushTarget,
    private readonly rules: readonly AllowRule[],
  ) {}

  /** Parses and checks a requested URL; a 400 naming the rule when it may not be used. */
  static async check(raw: unknown, rules: readonly AllowRule[]): Promise<StreamTarget> {
    const t = parsePushUrl(raw);
    if (typeof t === 'string') throw badRequest(t);
    const refusal = targetRefusal(t, rules, await resolve(t.host));
    if (refusal) throw badRequest(refusal);
    return new StreamTarget(t, rules);
  }

  /** The URL as shown in responses and logs: no key, no query. */
  get shown(): string {
    return describeTarget(this.target);
  }

  /** The secret parts, for masking any text that might echo them. */
  get secrets(): string[] {
    const { key } = this.target;
    const parts = [key, key.split('?')[0], ...key.split(/[?&]/).slice(1).map((kv) => kv.split('=').slice(1).join('='))];
    return [...new Set(parts.filter((p) => p.length >= 4))];
  }

  /** Resolves the host again, checks every address and returns the one to connect to. */
  async pin(): Promise<string> {
    const addresses = await resolve(this.target.host);
    const refusal = targetRefusal(this.target, this.rules, addresses);
    if (refusal) throw new TargetRefused(refusal);
    return addresses[0];
  }
}
