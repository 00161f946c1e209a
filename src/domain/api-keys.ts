import type { PrismaClient } from '../generated/prisma/client.js';
import type { Actor } from '../core/auth.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../core/auth.js';
import { badInput, forbidden, notFound } from '../core/errors.js';
import { isId } from '../core/ids.js';
import { checkName } from './names.js';

/** `db` is the caller's tenant-scoped client throughout the domain layer. */

export async function createApiKey(db: PrismaClient, actor: Actor, input: { name: string; expiresAt?: Date | null }) {
  const name = checkName(input.name, { maxLength: 200 });
  if (input.expiresAt && input.expiresAt <= new Date()) throw badInput('expiresAt must be in the future', 'expiresAt');
  const key = generateApiKey();
  const apiKey = await db.apiKey.create({
    data: {
      organizationId: actor.organizationId,
      userId: actor.userId,
      name,
      prefix: displayPrefix(key),
      keyHash: hashApiKey(key),
      expiresAt: input.expiresAt ?? null,
    },
  });
  return { apiKey, key };
}

/** A user revokes their own keys; an admin any key of the organization. Revoking twice is a no-op. */
export async function revokeApiKey(db: PrismaClient, actor: Actor, id: string) {
  if (!isId('apikey', id)) throw badInput(`"${id}" is not an API key id (apikey-<uuid4>)`, 'id');
  const key = await db.apiKey.findUnique({ where: { id } });
  if (!key) throw notFound('ApiKey', id);
  if (key.userId !== actor.userId && actor.role !== 'ADMIN') throw forbidden('Only an admin can revoke another user\'s key');
  if (key.revokedAt) return key;
  return db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
}
