// Webinar host grants: a secret that lets a viewer (or a named newcomer) publish. A grant lasts
// no longer than the token that gave it. Pure: the caller passes the time and the secret.

export interface HostGrant {
  subscriptionId: string | null;
  name: string | null;
  createdAt: number;
  /** ms since the epoch; null: no expiry. */
  expiresAt: number | null;
}

export class HostGrants {
  private readonly grants = new Map<string, HostGrant>();

  add(secret: string, to: { subscriptionId: string | null; name: string | null }, now: number, expiresAt: number | null): void {
    this.grants.set(secret, { ...to, createdAt: now, expiresAt });
  }

  /** Whether `secret` is a live grant (an expired one is forgotten). */
  has(secret: string, now: number): boolean {
    const g = this.grants.get(secret);
    if (g?.expiresAt != null && g.expiresAt <= now) this.grants.delete(secret);
    return this.grants.has(secret);
  }
}
