import type { PrismaClient, UserRole } from '../generated/prisma/client.js';
import type { Actor } from '../core/auth.js';
import { atLeast, displayPrefix, generateApiKey, hashApiKey, ROLE_RANK } from '../core/auth.js';
import { badInput, conflict, forbidden, notFound } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { checkName } from './names.js';

/** `db` is the caller's tenant-scoped client throughout the domain layer. */

/** Whether a key of role `role` is within what `actor` may hand out or take away. */
export const withinRole = (actor: Actor, role: UserRole) => ROLE_RANK[role] <= ROLE_RANK[actor.role];

/** What a new key row holds besides its secret. */
export interface NewKeyRow {
  organizationId: string;
  userId: string;
  name: string;
  role: UserRole;
  /** The key that minted it (revoking that one revokes this one); null for keys an administrator issued. */
  mintedById: string | null;
  expiresAt: Date | null;
}

/**
 * Writes a new key with a fresh secret, returned in clear (shown once; only its hash and display prefix are stored).
 * The one place keys are minted: creation, rotation and administration differ only in who may ask and for what row.
 */
export async function mintKey(db: PrismaClient, row: NewKeyRow) {
  const key = generateApiKey();
  const apiKey = await db.apiKey.create({ data: { ...row, prefix: displayPrefix(key), keyHash: hashApiKey(key) } });
  return { apiKey, key };
}

/**
 * Mints a key for the caller's user, of the caller's role or lower (default: the caller's role), remembering
 * which key minted it: revoking that key revokes this one too.
 */
export async function createApiKey(db: PrismaClient, actor: Actor, input: { name: string; expiresAt?: Date | null; role?: UserRole | null }) {
  const name = checkName(input.name, { maxLength: 200 });
  if (input.expiresAt && input.expiresAt <= new Date()) throw badInput('expiresAt must be in the future', 'expiresAt');
  const role = input.role ?? actor.role;
  if (!withinRole(actor, role)) throw forbidden(`A ${actor.role} key cannot mint ${role} keys`);
  const { apiKey, key } = await mintKey(db, {
    organizationId: actor.organizationId,
    userId: actor.userId,
    name,
    role,
    mintedById: actor.apiKeyId,
    expiresAt: input.expiresAt ?? null,
  });
  // The minting key may have been revoked while this one was written: its revocation walked the keys it had
  // minted before this row existed, so this key is revoked here instead (see revokeApiKey for the other half).
  const minter = await db.apiKey.findUnique({ where: { id: actor.apiKeyId }, select: { revokedAt: true } });
  if (!minter || minter.revokedAt) {
    await db.apiKey.update({ where: { id: apiKey.id }, data: { revokedAt: minter?.revokedAt ?? new Date() } });
    throw forbidden('The key used for this request was revoked');
  }
  return { apiKey, key };
}

/**
 * Revokes a key and, transitively, every key minted from it. A user revokes their own keys of their role or
 * lower; an admin any key of the organization. Revoking twice changes nothing. Returns the key and the ids of
 * every key this call revoked (for the authentication cache and open connections).
 */
export async function revokeApiKey(db: PrismaClient, actor: Actor, id: string) {
  if (!isId('apikey', id)) throw badInput(`"${id}" is not an API key id (apikey-<uuid4>)`, 'id');
  const key = await db.apiKey.findUnique({ where: { id } });
  if (!key) throw notFound('ApiKey', id);
  if (!withinRole(actor, key.role)) throw forbidden(`A ${actor.role} key cannot revoke ${key.role} keys`);
  if (key.userId !== actor.userId && !atLeast(actor.role, 'ADMIN')) throw forbidden("Only an admin can revoke another user's key");
  const revoked = await revokeTree(db, key);
  return { key: { ...key, revokedAt: key.revokedAt ?? revoked.revokedAt }, revoked: revoked.ids };
}

/** Revokes a key (unless it is already) and every key minted from it, transitively; the ids of those this call revoked. */
async function revokeTree(db: PrismaClient, key: { id: string; revokedAt: Date | null }) {
  const id = key.id;
  const revokedAt = key.revokedAt ?? new Date();
  const revoked: string[] = [];
  if (!key.revokedAt) {
    await db.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt } });
    revoked.push(id);
  }
  // Level by level, each read after the previous level's update: a key minted meanwhile by a key of this tree
  // is either seen here or finds its minter revoked (createApiKey). Keys already revoked are walked too.
  const seen = new Set([id]);
  for (let level = [id]; level.length; ) {
    const children = (await db.apiKey.findMany({ where: { mintedById: { in: level } }, select: { id: true, revokedAt: true } })).filter((k) => !seen.has(k.id));
    for (const child of children) seen.add(child.id);
    const live = children.filter((k) => !k.revokedAt).map((k) => k.id);
    if (live.length) {
      await db.apiKey.updateMany({ where: { id: { in: live }, revokedAt: null }, data: { revokedAt } });
      revoked.push(...live);
    }
    level = children.map((k) => k.id);
  }
  return { ids: revoked, revokedAt };
}

/**
 * Replaces a key by a new one with a new secret (shown once) and the same user, name, role, minter and expiry; the
 * old key is revoked. Keys the old one minted are moved to the new one first, so they keep working. The caller may
 * rotate its own keys of its role or lower; an admin any key of the organization of its role or lower.
 */
export async function rotateApiKey(db: PrismaClient, actor: Actor, id: string) {
  if (!isId('apikey', id)) throw badInput(`"${id}" is not an API key id (apikey-<uuid4>)`, 'id');
  const old = await db.apiKey.findUnique({ where: { id } });
  if (!old) throw notFound('ApiKey', id);
  if (!withinRole(actor, old.role)) throw forbidden(`A ${actor.role} key cannot rotate ${old.role} keys`);
  if (old.userId !== actor.userId && !atLeast(actor.role, 'ADMIN')) throw forbidden("Only an admin can rotate another user's key");
  if (old.revokedAt || (old.expiresAt && old.expiresAt <= new Date())) throw conflict(`API key ${id} is no longer active: create a new one instead`);
  const { apiKey, key } = await mintKey(db, {
    organizationId: old.organizationId,
    userId: old.userId,
    name: old.name,
    role: old.role,
    mintedById: old.mintedById,
    expiresAt: old.expiresAt,
  });
  await db.apiKey.updateMany({ where: { mintedById: old.id }, data: { mintedById: apiKey.id } });
  // A key the old one minted after the move is revoked with it (as createApiKey's check would do anyway).
  const { ids } = await revokeTree(db, old);
  return { apiKey, key, revoked: ids };
}
