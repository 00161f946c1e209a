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

/** The actor a key belongs to, or null for an unknown, revoked or expired key. */
export async function authenticate(prisma: PrismaClient, key: string | null): Promise<Actor | null> {
  if (!key) return null;
  const row = await prisma.apiKey.findUnique({
    where: { keyHash: hashApiKey(key) },
    select: { id: true, organizationId: true, userId: true, revokedAt: true, expiresAt: true, lastUsedAt: true, user: { select: { role: true } } },
  });
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= new Date())) return null;
  // Record use at most once a minute, off the request's path.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return { userId: row.userId, organizationId: row.organizationId, role: row.user.role, apiKeyId: row.id };
}
