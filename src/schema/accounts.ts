import { atLeast } from '../core/auth.js';
import { createApiKey, revokeApiKey } from '../domain/api-keys.js';
import { scopeOfRow } from '../domain/administration.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { builder } from './builder.js';

/** Organizations, users and API keys: who the caller is and the keys they hold. */

builder.prismaNode('Organization', {
  id: { field: 'id' },
  nullable: true, // node(id:) of a missing or foreign id is null, per Relay
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const UserRole = builder.enumType('UserRole', {
  description:
    'What a user or key may do, lowest first: READER reads only; MEMBER reads and writes the organization\'s data; ' +
    'ADMIN also administers its users and keys; SERVER_ADMIN also administers every organization.',
  values: {
    READER: { description: 'Reads only: no mutation, no mutating REST route.' },
    MEMBER: { description: "Reads and writes the organization's data." },
    ADMIN: { description: "Also lists, creates and disables the organization's users and keys." },
    SERVER_ADMIN: { description: 'Also creates and lists organizations, and administers the users and keys of every one.' },
  } as const,
});

builder.prismaNode('User', {
  id: { field: 'id' },
  nullable: true, // node(id:) of a missing or foreign id is null, per Relay
  fields: (t) => ({
    name: t.exposeString('name'),
    email: t.exposeString('email', { nullable: true }),
    role: t.expose('role', { type: UserRole }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true, description: 'Set while the user is disabled: none of its keys work.' }),
    organization: t.relation('organization'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ApiKey = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  nullable: true, // node(id:) of a missing or foreign id is null, per Relay
  description: 'An API key. Only its hash is stored; `prefix` is its first characters, to tell keys apart.',
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix'),
    user: t.relation('user'),
    role: t.expose('role', {
      type: UserRole,
      description: "What the key may do: the lower of this and its user's role. Keys it mints are of this role or lower.",
    }),
    mintedBy: t.relation('mintedBy', {
      nullable: true,
      description: 'The key that created this one (null for keys made at setup). Revoking a key revokes every key minted from it.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    active: t.boolean({
      select: { revokedAt: true, expiresAt: true },
      resolve: (key) => !key.revokedAt && (!key.expiresAt || key.expiresAt > new Date()),
    }),
  }),
});

const Viewer = builder.objectRef<{ userId: string; organizationId: string; apiKeyId: string }>('Viewer').implement({
  description: 'The caller: the user and organization the API key belongs to.',
  fields: (t) => ({
    user: t.prismaField({
      type: 'User',
      resolve: (query, v, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: v.userId } }),
    }),
    organization: t.prismaField({
      type: 'Organization',
      resolve: (query, v, _args, ctx) => ctx.db.organization.findUniqueOrThrow({ ...query, where: { id: v.organizationId } }),
    }),
    apiKey: t.prismaField({
      type: 'ApiKey',
      description: 'The key used for this request.',
      resolve: (query, v, _args, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: v.apiKeyId } }),
    }),
    apiKeys: t.prismaField({
      type: ['ApiKey'],
      description: "The caller's keys, newest first (admins: every key of the organization).",
      resolve: (query, v, _args, ctx) =>
        ctx.db.apiKey.findMany({
          ...query,
          where: atLeast(ctx.actor.role, 'ADMIN') ? {} : { userId: v.userId },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        }),
    }),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: Viewer,
    resolve: (_root, _args, ctx) => ctx.actor,
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: { minLength: 1, maxLength: 200 } }),
    expiresAt: t.field({ type: 'DateTime', required: false }),
    role: t.field({ type: UserRole, required: false, description: "The new key's role: the calling key's role (the default) or lower." }),
  }),
});


/** `db`: the client of the key's organization (a server admin may create keys in another one). */
export const CreatedKey = builder.objectRef<{ key: string; apiKeyId: string; db?: PrismaClient }>('CreateApiKeyResult').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: 'The key itself. It is shown only here, once: store it now.' }),
    apiKey: t.prismaField({
      type: ApiKey,
      resolve: (query, r, _args, ctx) => (r.db ?? ctx.db).apiKey.findUniqueOrThrow({ ...query, where: { id: r.apiKeyId } }),
    }),
  }),
});

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedKey,
    description: "Creates a key for the caller's user, of the calling key's role or lower. Revoking the calling key later revokes this one too.",
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { apiKey, key } = await createApiKey(ctx.db, ctx.actor, input);
      return { key, apiKeyId: apiKey.id };
    },
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.prismaField({
    type: ApiKey,
    description:
      "Revokes one of the caller's keys of the calling key's role or lower (admins: any key of the organization), and every key minted from it, " +
      'transitively. Open connections using them are closed. Idempotent.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // A server admin may revoke a key of any organization; anyone else reaches only their own.
      const scope = await scopeOfRow(ctx, 'apikey', String(id));
      const { key, revoked } = await revokeApiKey(scope.db, ctx.actor, String(id));
      ctx.authenticator.forget([key.id, ...revoked]);
      return scope.db.apiKey.findUniqueOrThrow({ ...query, where: { id: key.id } });
    },
  }),
);
