import type { PrismaClient, UserRole } from '../generated/prisma/client.js';
import { atLeast, type Actor } from '../core/auth.js';
import { badInput, conflict, forbidden, notFound } from '../core/errors.js';
import { isId } from '../core/ids.js';
import type { Tenants } from '../core/tenancy.js';
import { createApiKey, mintKey, withinRole } from './api-keys.js';
import { checkName } from './names.js';
import { createOrganization } from './organizations.js';

/**
 * Administration of organizations, users and keys. An organization admin (ADMIN) acts on its own organization; a
 * server admin (SERVER_ADMIN) on any. Nobody hands out or acts on a role above its own. Another organization's ids
 * are, for an organization admin, missing ids (NOT_FOUND), as everywhere else.
 */
export interface AdminAccess {
  actor: Actor;
  /** The caller's organization's scoped client. */
  db: PrismaClient;
  tenants: Tenants;
}

/** An organization an admin acts on, and its scoped client. */
export interface OrganizationScope {
  organizationId: string;
  db: PrismaClient;
}

function requireAdmin(actor: Actor) {
  if (!atLeast(actor.role, 'ADMIN')) throw forbidden('Only an admin can administer users and keys');
}

function requireServerAdmin(actor: Actor) {
  if (actor.role !== 'SERVER_ADMIN') throw forbidden('Only a server admin can administer organizations');
}

/** The organization named (default: the caller's), which the caller must be allowed to administer. */
export async function organizationScope(access: AdminAccess, organizationId?: string | null): Promise<OrganizationScope> {
  const { actor } = access;
  requireAdmin(actor);
  if (!organizationId || organizationId === actor.organizationId) return { organizationId: actor.organizationId, db: access.db };
  if (!isId('org', organizationId)) throw badInput(`"${organizationId}" is not an organization id (org-<uuid4>)`, 'organizationId');
  // For an organization admin, another organization does not exist.
  if (actor.role !== 'SERVER_ADMIN') throw notFound('Organization', organizationId);
  const found = await access.tenants.root.organization.findUnique({ where: { id: organizationId }, select: { id: true } });
  if (!found) throw notFound('Organization', organizationId);
  return { organizationId, db: access.tenants.for(organizationId) };
}

/** The organization a user or key belongs to, as a scope the caller may administer (NOT_FOUND otherwise). */
export async function scopeOfRow(access: AdminAccess, model: 'user' | 'apikey', id: string): Promise<OrganizationScope> {
  if (!isId(model, id)) throw badInput(`"${id}" is not ${model === 'user' ? 'a user id (user-<uuid4>)' : 'an API key id (apikey-<uuid4>)'}`, 'id');
  if (access.actor.role !== 'SERVER_ADMIN') return { organizationId: access.actor.organizationId, db: access.db };
  const where = { where: { id }, select: { organizationId: true } };
  const row = model === 'user' ? await access.tenants.root.user.findUnique(where) : await access.tenants.root.apiKey.findUnique(where);
  if (!row) throw notFound(model === 'user' ? 'User' : 'ApiKey', id);
  return organizationScope(access, row.organizationId);
}

/** The unscoped client, for listing organizations: server admins only. */
export function organizationsClient(access: AdminAccess): PrismaClient {
  requireServerAdmin(access.actor);
  return access.tenants.root;
}

/** A new organization with its first admin user and that user's key (the key in clear, once). */
export async function createOrganizationWithAdmin(access: AdminAccess, input: { name: string; adminName?: string | null; adminEmail?: string | null }) {
  requireServerAdmin(access.actor);
  const name = checkName(input.name, { maxLength: 200 });
  const adminName = checkName(input.adminName ?? 'admin', { maxLength: 200, field: 'adminName' });
  return createOrganization(access.tenants.root, { name, adminName, adminEmail: checkEmail(input.adminEmail) });
}

function checkEmail(email: string | null | undefined): string | null {
  if (email === null || email === undefined) return null;
  const trimmed = email.trim();
  if (trimmed.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(trimmed)) throw badInput(`"${email}" is not an email address`, 'email');
  return trimmed;
}

export async function createUser(
  access: AdminAccess,
  input: { organizationId?: string | null; name: string; email?: string | null; role?: UserRole | null },
) {
  const scope = await organizationScope(access, input.organizationId);
  const role = input.role ?? 'MEMBER';
  if (!withinRole(access.actor, role)) throw forbidden(`A ${access.actor.role} cannot create ${role} users`);
  const name = checkName(input.name, { maxLength: 200 });
  const user = await scope.db.user.create({
    data: { organizationId: scope.organizationId, name, email: checkEmail(input.email), role },
    select: { id: true },
  });
  return { scope, userId: user.id };
}

/**
 * Disables (or enables again) a user: while disabled, none of its keys authenticate. Returns the ids of its keys,
 * for the authentication cache and open connections (core/revocation.ts); other replicas notice within their
 * cache's lifetime.
 */
export async function setUserDisabled(access: AdminAccess, userId: string, disabled: boolean) {
  const scope = await scopeOfRow(access, 'user', userId);
  const user = await scope.db.user.findUnique({ where: { id: userId }, select: { id: true, role: true } });
  if (!user) throw notFound('User', userId);
  if (user.id === access.actor.userId) throw badInput('You cannot disable or enable your own user', 'id');
  if (!withinRole(access.actor, user.role)) throw forbidden(`A ${access.actor.role} cannot disable or enable ${user.role} users`);
  await scope.db.user.update({ where: { id: userId }, data: { disabledAt: disabled ? new Date() : null }, select: { id: true } });
  const keys = await scope.db.apiKey.findMany({ where: { userId }, select: { id: true } });
  return { scope, keyIds: keys.map((k) => k.id) };
}

/**
 * A key for a user. For the caller's own user it is createApiKey (minted by the calling key: revoking that one revokes
 * it). For another user (admins only) the key belongs to that user alone: its role is at most the user's and the
 * caller's, and revoking the admin's key leaves it alone.
 */
export async function issueApiKey(
  access: AdminAccess,
  input: { userId: string; name: string; role?: UserRole | null; expiresAt?: Date | null },
) {
  const scope = await scopeOfRow(access, 'user', input.userId);
  if (input.userId === access.actor.userId) {
    const created = await createApiKey(scope.db, access.actor, input);
    return { scope, ...created };
  }
  requireAdmin(access.actor);
  const user = await scope.db.user.findUnique({ where: { id: input.userId }, select: { id: true, role: true, disabledAt: true } });
  if (!user) throw notFound('User', input.userId);
  if (user.disabledAt) throw conflict(`User ${user.id} is disabled: enable it before giving it keys`);
  const role = input.role ?? user.role;
  if (!withinRole(access.actor, role)) throw forbidden(`A ${access.actor.role} key cannot mint ${role} keys`);
  if (!withinRole({ ...access.actor, role: user.role }, role)) throw badInput(`A ${user.role} user cannot hold ${role} keys`, 'role');
  const name = checkName(input.name, { maxLength: 200 });
  if (input.expiresAt && input.expiresAt <= new Date()) throw badInput('expiresAt must be in the future', 'expiresAt');
  const { apiKey, key } = await mintKey(scope.db, { organizationId: scope.organizationId, userId: user.id, name, role, mintedById: null, expiresAt: input.expiresAt ?? null });
  return { scope, apiKey, key };
}
