import type { PrismaClient } from '../generated/prisma/client.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../core/auth.js';
import { newId } from '../core/ids.js';


export interface NewOrganization {
  organizationId: string;
  userId: string;
  apiKeyId: string;
  apiKey: string;
}

/**
 * Creates an organization with an admin user and one API key (returned in clear, once), all or nothing: one
 * transaction, so a concurrent creation of the same default organization or key fails whole (unique violation).
 * Unscoped by nature.
 */
export async function createOrganization(
  prisma: PrismaClient,
  input: { name: string; adminName?: string; adminEmail?: string | null; adminRole?: 'ADMIN' | 'SERVER_ADMIN'; isDefault?: boolean; apiKey?: string },
): Promise<NewOrganization> {
  const apiKey = input.apiKey ?? generateApiKey();
  const role = input.adminRole ?? 'ADMIN';
  const [organizationId, userId, apiKeyId] = [newId('org'), newId('user'), newId('apikey')];
  await prisma.$transaction([
    prisma.organization.create({ data: { id: organizationId, name: input.name, isDefault: input.isDefault }, select: { id: true } }),
    prisma.user.create({ data: { id: userId, organizationId, name: input.adminName ?? 'admin', email: input.adminEmail ?? null, role }, select: { id: true } }),
    prisma.apiKey.create({
      data: { id: apiKeyId, organizationId, userId, name: 'initial', role, prefix: displayPrefix(apiKey), keyHash: hashApiKey(apiKey) },
      select: { id: true },
    }),
  ]);
  return { organizationId, userId, apiKeyId, apiKey };
}

export type BootstrapResult =
  | { kind: 'created'; apiKey: string; generated: boolean }
  | { kind: 'key-added' }
  | { kind: 'existing' };

/**
 * First start: create the default organization and its admin, the server admin (SERVER_ADMIN: administers every
 * organization). QUARRY_API_KEY, when set, becomes the admin's
 * key (also on later starts, if it is not stored yet); otherwise a key is generated and returned to be
 * printed once — only its hash is kept.
 *
 * The default organization is found by its `isDefault` mark, not by a fixed id: its id is random per install, so
 * two installs never share an organization id (on a shared Redis, channels are per organization). Installs made
 * when the id was fixed had it marked by the migration that added the mark.
 */
export async function bootstrap(prisma: PrismaClient, configuredKey?: string, retried = false): Promise<BootstrapResult> {
  const existing = await prisma.organization.findFirst({ where: { isDefault: true }, select: { id: true } });
  if (!existing) {
    try {
      const created = await createOrganization(prisma, {
        name: 'default_org',
        adminName: 'default_user',
        adminRole: 'SERVER_ADMIN',
        isDefault: true,
        apiKey: configuredKey,
      });
      return { kind: 'created', apiKey: created.apiKey, generated: !configuredKey };
    } catch (error) {
      // Another process bootstrapping the same database at the same moment made it first (the default mark, or the
      // same QUARRY_API_KEY, is unique): its transaction committed whole, so the next look finds it.
      if ((error as { code?: string }).code !== 'P2002' || retried) throw error;
      return bootstrap(prisma, configuredKey, true);
    }
  }
  if (configuredKey) {
    const hash = hashApiKey(configuredKey);
    const stored = await prisma.apiKey.findUnique({ where: { keyHash: hash }, select: { id: true } });
    if (!stored) {
      const admin =
        (await prisma.user.findFirst({ where: { organizationId: existing.id, role: 'SERVER_ADMIN' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true, role: true } })) ??
        (await prisma.user.findFirstOrThrow({ where: { organizationId: existing.id, role: 'ADMIN' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true, role: true } }));
      // Two processes adding the same key at once: one row, the other insert does nothing.
      const { count } = await prisma.apiKey.createMany({
        data: [{ organizationId: existing.id, userId: admin.id, name: 'QUARRY_API_KEY', role: admin.role, prefix: displayPrefix(configuredKey), keyHash: hash }],
        skipDuplicates: true,
      });
      if (count) return { kind: 'key-added' };
    }
  }
  return { kind: 'existing' };
}
