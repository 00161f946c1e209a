import type { PrismaClient } from '../generated/prisma/client.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../core/auth.js';


export interface NewOrganization {
  organizationId: string;
  userId: string;
  apiKey: string;
}

/** Creates an organization with an admin user and one API key (returned in clear, once). Unscoped by nature. */
export async function createOrganization(
  prisma: PrismaClient,
  input: { name: string; adminName?: string; isDefault?: boolean; apiKey?: string },
): Promise<NewOrganization> {
  const apiKey = input.apiKey ?? generateApiKey();
  const org = await prisma.organization.create({
    data: {
      name: input.name,
      isDefault: input.isDefault,
      users: { create: { name: input.adminName ?? 'admin', role: 'ADMIN' } },
    },
    select: { id: true, users: { select: { id: true } } },
  });
  const userId = org.users[0].id;
  await prisma.apiKey.create({
    data: { organizationId: org.id, userId, name: 'initial', role: 'ADMIN', prefix: displayPrefix(apiKey), keyHash: hashApiKey(apiKey) },
  });
  return { organizationId: org.id, userId, apiKey };
}

export type BootstrapResult =
  | { kind: 'created'; apiKey: string; generated: boolean }
  | { kind: 'key-added' }
  | { kind: 'existing' };

/**
 * First start: create the default organization and its admin. QUARRY_API_KEY, when set, becomes the admin's
 * key (also on later starts, if it is not stored yet); otherwise a key is generated and returned to be
 * printed once — only its hash is kept.
 *
 * The default organization is found by its `isDefault` mark, not by a fixed id: its id is random per install, so
 * two installs never share an organization id (on a shared Redis, channels are per organization). Installs made
 * when the id was fixed had it marked by the migration that added the mark.
 */
export async function bootstrap(prisma: PrismaClient, configuredKey?: string): Promise<BootstrapResult> {
  const existing = await prisma.organization.findFirst({ where: { isDefault: true }, select: { id: true } });
  if (!existing) {
    try {
      const created = await createOrganization(prisma, { name: 'default_org', adminName: 'default_user', isDefault: true, apiKey: configuredKey });
      return { kind: 'created', apiKey: created.apiKey, generated: !configuredKey };
    } catch (error) {
      // Another process bootstrapping the same database at the same moment made it first (unique mark).
      if ((error as { code?: string }).code !== 'P2002') throw error;
      return bootstrap(prisma, configuredKey);
    }
  }
  if (configuredKey) {
    const hash = hashApiKey(configuredKey);
    const stored = await prisma.apiKey.findUnique({ where: { keyHash: hash }, select: { id: true } });
    if (!stored) {
      const admin = await prisma.user.findFirstOrThrow({
        where: { organizationId: existing.id, role: 'ADMIN' },
        orderBy: { createdAt: 'asc' },
        select: { id: true },
      });
      await prisma.apiKey.create({
        data: { organizationId: existing.id, userId: admin.id, name: 'QUARRY_API_KEY', role: 'ADMIN', prefix: displayPrefix(configuredKey), keyHash: hash },
      });
      return { kind: 'key-added' };
    }
  }
  return { kind: 'existing' };
}
