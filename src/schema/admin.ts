import type { Prisma } from '../generated/prisma/client.js';
import { rotateApiKey } from '../domain/api-keys.js';
import {
  createOrganizationWithAdmin,
  createUser,
  issueApiKey,
  organizationScope,
  organizationsClient,
  scopeOfRow,
  setUserDisabled,
} from '../domain/administration.js';
import { CreatedKey, UserRole } from './accounts.js';
import { builder } from './builder.js';

/**
 * Administration: organization admins (ADMIN) list and create their organization's users and keys, disable users and
 * rotate keys; a server admin (SERVER_ADMIN) also creates and lists organizations and does all this in any of them.
 * The rules live in domain/administration.ts; the scopes here only keep lower roles out early.
 */

const byAge = [{ createdAt: 'asc' as const }, { id: 'asc' as const }];

builder.queryFields((t) => ({
  organizations: t.prismaConnection({
    type: 'Organization',
    cursor: 'id',
    authScopes: { serverAdmin: true },
    description: 'Every organization of this server, oldest first. Server admins only.',
    resolve: (query, _root, _args, ctx) => organizationsClient(ctx).organization.findMany({ ...query, orderBy: byAge }),
    totalCount: (_root, _args, ctx) => organizationsClient(ctx).organization.count(),
  }),
  users: t.prismaConnection({
    type: 'User',
    cursor: 'id',
    authScopes: { admin: true },
    description: "Users of an organization (default: the caller's), oldest first. Admins: their organization; server admins: any.",
    args: {
      organizationId: t.arg.id({ required: false }),
      includeDisabled: t.arg.boolean({ defaultValue: true }),
    },
    resolve: async (query, _root, args, ctx) => {
      const scope = await organizationScope(ctx, args.organizationId && String(args.organizationId));
      return scope.db.user.findMany({ ...query, where: userWhere(args), orderBy: byAge });
    },
    totalCount: async (_root, args, ctx) => {
      const scope = await organizationScope(ctx, args.organizationId && String(args.organizationId));
      return scope.db.user.count({ where: userWhere(args) });
    },
  }),
  apiKeys: t.prismaConnection({
    type: 'ApiKey',
    cursor: 'id',
    authScopes: { admin: true },
    description: "API keys of an organization (default: the caller's), or of one of its users, oldest first. Admins: their organization; server admins: any.",
    args: {
      organizationId: t.arg.id({ required: false }),
      userId: t.arg.id({ required: false }),
      includeInactive: t.arg.boolean({ defaultValue: false, description: 'Also revoked and expired keys.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const scope = await organizationScope(ctx, args.organizationId && String(args.organizationId));
      return scope.db.apiKey.findMany({ ...query, where: keyWhere(args), orderBy: byAge });
    },
    totalCount: async (_root, args, ctx) => {
      const scope = await organizationScope(ctx, args.organizationId && String(args.organizationId));
      return scope.db.apiKey.count({ where: keyWhere(args) });
    },
  }),
}));

function userWhere(args: { includeDisabled?: boolean | null }): Prisma.UserWhereInput {
  return args.includeDisabled === false ? { disabledAt: null } : {};
}

function keyWhere(args: { userId?: string | number | null; includeInactive?: boolean | null }): Prisma.ApiKeyWhereInput {
  return {
    ...(args.userId ? { userId: String(args.userId) } : {}),
    ...(args.includeInactive ? {} : { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] }),
  };
}

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    adminName: t.string({ required: false, description: "The first admin user's name (default: admin)." }),
    adminEmail: t.string({ required: false }),
  }),
});

const CreatedOrganization = builder.objectRef<{ organizationId: string; userId: string; apiKeyId: string; key: string }>('CreateOrganizationResult').implement({
  fields: (t) => ({
    organization: t.prismaField({
      type: 'Organization',
      resolve: (query, r, _args, ctx) => ctx.tenants.for(r.organizationId).organization.findUniqueOrThrow({ ...query, where: { id: r.organizationId } }),
    }),
    admin: t.prismaField({
      type: 'User',
      resolve: (query, r, _args, ctx) => ctx.tenants.for(r.organizationId).user.findUniqueOrThrow({ ...query, where: { id: r.userId } }),
    }),
    key: t.exposeString('key', { description: "The first admin's API key. It is shown only here, once: store it now." }),
    apiKey: t.prismaField({
      type: 'ApiKey',
      resolve: (query, r, _args, ctx) => ctx.tenants.for(r.organizationId).apiKey.findUniqueOrThrow({ ...query, where: { id: r.apiKeyId } }),
    }),
  }),
});

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    organizationId: t.id({ required: false, description: "Default: the caller's organization (only server admins name another)." }),
    name: t.string({ required: true }),
    email: t.string({ required: false }),
    role: t.field({ type: UserRole, required: false, description: "Default MEMBER; at most the caller's role." }),
  }),
});

const CreateUserApiKeyInput = builder.inputType('CreateUserApiKeyInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    name: t.string({ required: true }),
    role: t.field({ type: UserRole, required: false, description: "Default: the user's role; at most the user's and the caller's." }),
    expiresAt: t.field({ type: 'DateTime', required: false }),
  }),
});

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: CreatedOrganization,
    authScopes: { serverAdmin: true },
    description: 'Creates an organization with its first admin user and that user\'s key (shown once). Server admins only.',
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const created = await createOrganizationWithAdmin(ctx, input);
      return { organizationId: created.organizationId, userId: created.userId, apiKeyId: created.apiKeyId, key: created.apiKey };
    },
  }),
  createUser: t.prismaField({
    type: 'User',
    authScopes: { admin: true },
    description: "Creates a user in the caller's organization (server admins: any), of the caller's role or lower. Give it keys with createUserApiKey.",
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: async (query, _root, { input }, ctx) => {
      const { scope, userId } = await createUser(ctx, { ...input, organizationId: input.organizationId && String(input.organizationId) });
      return scope.db.user.findUniqueOrThrow({ ...query, where: { id: userId } });
    },
  }),
  createUserApiKey: t.field({
    type: CreatedKey,
    description:
      "Creates a key for a user (the key is shown once). Admins: any user of their organization; others: themselves only (as createApiKey). " +
      "A key made for another user is that user's alone: revoking the admin's key leaves it alone.",
    args: { input: t.arg({ type: CreateUserApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { scope, apiKey, key } = await issueApiKey(ctx, { ...input, userId: String(input.userId) });
      return { key, apiKeyId: apiKey.id, db: scope.db };
    },
  }),
  disableUser: t.prismaField({
    type: 'User',
    authScopes: { admin: true },
    description: 'Disables a user: none of its keys work any more (at once on this server, within AUTH_CACHE_TTL_MS on the others; open connections close).',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const { scope, keyIds } = await setUserDisabled(ctx, String(id), true);
      ctx.authenticator.forget(keyIds);
      return scope.db.user.findUniqueOrThrow({ ...query, where: { id: String(id) } });
    },
  }),
  enableUser: t.prismaField({
    type: 'User',
    authScopes: { admin: true },
    description: 'Enables a disabled user again: its keys that are neither revoked nor expired work again.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      const { scope } = await setUserDisabled(ctx, String(id), false);
      return scope.db.user.findUniqueOrThrow({ ...query, where: { id: String(id) } });
    },
  }),
  rotateApiKey: t.field({
    type: CreatedKey,
    description:
      'Replaces a key by a new one (new secret, shown once; same user, name, role and expiry) and revokes the old one. Keys the old one ' +
      "minted now hang from the new one. Your own keys of your role or lower; admins: any key of their organization of their role or lower.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => {
      const scope = await scopeOfRow(ctx, 'apikey', String(id));
      const { apiKey, key, revoked } = await rotateApiKey(scope.db, ctx.actor, String(id));
      ctx.authenticator.forget(revoked);
      return { key, apiKeyId: apiKey.id, db: scope.db };
    },
  }),
}));
