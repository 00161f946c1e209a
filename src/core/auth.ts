import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient, UserRole } from '../generated/prisma/client.js';

/**
 * API keys: `qk_` + 32 random bytes (base64url). Keys carry 256 bits of entropy, so a plain SHA-256 is the
 * right hash (slow password hashes exist for guessable secrets); only the hash and a short display prefix
 * are stored.
 */
export interface Actor {
  userId: string;
  organizationId: string;
  role: UserRole;
  apiKeyId: string;
  /** When the key used expires, if it does. */
  keyExpiresAt?: Date | null;
}

export const KEY_PREFIX = 'qk_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What is shown of a key after creation: enough to tell keys apart, useless to an attacker. */
export function displayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}

/** `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function keyFromHeaders(get: (name: string) => string | null | undefined): string | null {
  const auth = get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = get('x-api-key');
  return header?.trim() || null;
}

/**
 * Roles, lowest first. READER keys only read (no mutation, no mutating REST route); MEMBER keys read and write the
 * organization's data; ADMIN keys also administer its users and keys; SERVER_ADMIN keys also administer every
 * organization. A key acts with the lower of its own role and its user's, and never hands out a higher one.
 */
export const ROLE_RANK: Record<UserRole, number> = { READER: 0, MEMBER: 1, ADMIN: 2, SERVER_ADMIN: 3 };

export const atLeast = (role: UserRole, minimum: UserRole) => ROLE_RANK[role] >= ROLE_RANK[minimum];

export const lowerRole = (a: UserRole, b: UserRole): UserRole => (ROLE_RANK[a] <= ROLE_RANK[b] ? a : b);

/** How often a key's `lastUsedAt` is written at most: once a minute, not once a request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** The actor a key belongs to, or null for an unknown, revoked or expired key, or a key of a disabled user. */
export async function authenticate(prisma: PrismaClient, key: string | null): Promise<Actor | null> {
  if (!key) return null;
  // One statement per request (a Prisma nested select would take two): this runs before every operation.
  const [row] = await prisma.$queryRaw<
    {
      id: string;
      organizationId: string;
      userId: string;
      revokedAt: Date | null;
      expiresAt: Date | null;
      lastUsedAt: Date | null;
      keyRole: UserRole;
      userRole: UserRole;
      disabledAt: Date | null;
    }[]
  >`SELECT k.id, k."organizationId", k."userId", k."revokedAt", k."expiresAt", k."lastUsedAt",
            k.role AS "keyRole", u.role AS "userRole", u."disabledAt"
      FROM "ApiKey" k JOIN "User" u ON u.id = k."userId"
     WHERE k."keyHash" = ${hashApiKey(key)}`;
  if (!row || row.revokedAt || row.disabledAt || (row.expiresAt && row.expiresAt <= new Date())) return null;
  // Record use at most once a minute, off the request's path; the condition keeps replicas from writing it again.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    const cutoff = new Date(Date.now() - LAST_USED_RESOLUTION_MS);
    prisma.apiKey
      .updateMany({ where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: cutoff } }] }, data: { lastUsedAt: new Date() } })
      .catch(() => {});
  }
  // A demoted user's admin keys act as the user's role.
  const role = lowerRole(row.keyRole, row.userRole);
  return { userId: row.userId, organizationId: row.organizationId, role, apiKeyId: row.id, keyExpiresAt: row.expiresAt };
}

/**
 * Of `ids`, the keys that no longer authenticate (revoked, expired, deleted, or of a disabled user): one statement,
 * for re-checking open connections.
 */
export async function inactiveKeys(prisma: PrismaClient, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const active = await prisma.apiKey.findMany({
    where: { id: { in: [...ids] }, revokedAt: null, user: { disabledAt: null }, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
    select: { id: true },
  });
  const alive = new Set(active.map((k) => k.id));
  return ids.filter((id) => !alive.has(id));
}

/**
 * Authenticates keys with a short-lived in-process cache: the key lookup is a database round trip on every
 * request otherwise. A revoked key stops at once on the process that revoked it (forget) and within `ttlMs`
 * on other replicas; `ttlMs = 0` disables the cache. Unknown keys are never cached.
 */
export class Authenticator {
  private readonly cache = new Map<string, { actor: Actor; expiresAt: number }>();
  private readonly listeners = new Set<(apiKeyIds: ReadonlySet<string>) => void>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  /** The actor of a key authenticated within the cache's lifetime, without asking the database. */
  cached(key: string | null): Actor | undefined {
    if (!key || this.ttlMs <= 0) return undefined;
    const hit = this.cache.get(hashApiKey(key));
    return hit && hit.expiresAt > Date.now() ? hit.actor : undefined;
  }

  async authenticate(key: string | null): Promise<Actor | null> {
    if (!key) return null;
    if (this.ttlMs <= 0) return authenticate(this.prisma, key);
    const hit = this.cached(key);
    if (hit) return hit;
    const hash = hashApiKey(key);
    const actor = await authenticate(this.prisma, key);
    if (actor) {
      if (this.cache.size >= this.max) this.cache.clear();
      const keyExpiry = actor.keyExpiresAt?.getTime() ?? Infinity;
      this.cache.set(hash, { actor, expiresAt: Math.min(Date.now() + this.ttlMs, keyExpiry) });
    } else {
      this.cache.delete(hash);
    }
    return actor;
  }

  /**
   * Drops every cached entry of these keys after they were revoked, and tells the listeners (open connections
   * holding them are closed at once on this process; other replicas find out within `ttlMs`).
   */
  forget(apiKeyIds: readonly string[]): void {
    const ids = new Set(apiKeyIds);
    for (const [hash, entry] of this.cache) if (ids.has(entry.actor.apiKeyId)) this.cache.delete(hash);
    for (const listener of this.listeners) listener(ids);
  }

  /** Called with the ids passed to each `forget`. Returns the function that removes the listener. */
  onForget(listener: (apiKeyIds: ReadonlySet<string>) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
