import type { PrismaClient } from '../generated/prisma/client.js';
import { displayPrefix, generateApiKey, hashApiKey } from '../core/auth.js';

/** Letta's default organization and user ids, so single-user setups look familiar to Letta clients. */
export const DEFAULT_ORG_ID = 'org-00000000-0000-4000-8000-000000000000';
export const DEFAULT_USER_ID = 'user-00000000-0000-4000-8000-000000000000';

export interface NewOrganization {
  organizationId: string;
  userId: string;
  apiKey: string;
}

/** Creates an organization with an admin user and one API key (returned in clear, once). Unscoped by nature. */
export async function createOrganization(
  prisma: PrismaClient,
  input: { name: string; adminName?: string; organizationId?: string; userId?: string; apiKey?: string },
): Promise<NewOrganization> {
  const apiKey = input.apiKey ?? generateApiKey();
  const org = await prisma.organization.create({
    data: {
      id: input.organizationId,
      name: input.name,
      users: { create: { id: input.userId, name: input.adminName ?? 'admin', role: 'ADMIN' } },
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
 */
export async function bootstrap(prisma: PrismaClient, configuredKey?: string): Promise<BootstrapResult> {
  const existing = await prisma.organization.findUnique({ where: { id: DEFAULT_ORG_ID }, select: { id: true } });
  if (!existing) {
    const created = await createOrganization(prisma, {
      name: 'default_org',
      adminName: 'default_user',
      organizationId: DEFAULT_ORG_ID,
      userId: DEFAULT_USER_ID,
      apiKey: configuredKey,
    });
    return { kind: 'created', apiKey: created.apiKey, generated: !configuredKey };
  }
  if (configuredKey) {
    const hash = hashApiKey(configuredKey);
    const stored = await prisma.apiKey.findUnique({ where: { keyHash: hash }, select: { id: true } });
    if (!stored) {
      await prisma.apiKey.create({
        data: { organizationId: DEFAULT_ORG_ID, userId: DEFAULT_USER_ID, name: 'QUARRY_API_KEY', role: 'ADMIN', prefix: displayPrefix(configuredKey), keyHash: hash },
      });
      return { kind: 'key-added' };
    }
  }
  return { kind: 'existing' };
}
