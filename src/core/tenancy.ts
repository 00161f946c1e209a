import type { PrismaClient } from '../generated/prisma/client.js';

/**
 * The one place where tenancy is enforced. `scopedPrisma(prisma, orgId)` returns a client whose every
 * operation on a tenant model is confined to that organization: reads and bulk writes get
 * `organizationId = orgId` added to `where`, creates get it forced into `data`. Another organization's id
 * therefore behaves exactly like a missing one, whatever the caller forgets.
 *
 * Cursors too: Prisma positions a page after (or before) the cursor row whatever the query's `where` says, so
 * another organization's id as a cursor would page through the caller's rows positioned by a foreign row (an
 * oracle of its sort keys) where a missing id gives an empty page. Every `cursor`, top-level or in a nested
 * relation read (`include: { steps: { cursor } }`), is confined to the organization as well, so a foreign
 * cursor names no row, exactly like a missing one.
 *
 * Limits: nested writes (`create: { files: { create: … } }`) are not rewritten, so domain code creates tenant
 * rows with top-level operations; nested reads follow foreign keys, which never cross organizations because
 * every link is created through this client. Raw reads go through the organization-bound reader
 * (domain/reads/org-reader.ts), which refuses a statement that does not apply its filter.
 */
const WHERE_OPS = new Set([
  'findUnique', 'findUniqueOrThrow', 'findFirst', 'findFirstOrThrow', 'findMany', 'count', 'aggregate', 'groupBy',
  'update', 'updateMany', 'updateManyAndReturn', 'delete', 'deleteMany', 'upsert',
]);
const CREATE_OPS = new Set(['create', 'createMany', 'createManyAndReturn', 'upsert']);

type Args = {
  where?: Record<string, unknown>;
  data?: unknown;
  create?: Record<string, unknown>;
  cursor?: Record<string, unknown>;
  include?: Record<string, unknown>;
  select?: Record<string, unknown>;
};

export function scopedPrisma(prisma: PrismaClient, organizationId: string): PrismaClient {
  return prisma.$extends({
    name: 'tenancy',
    query: {
      $allModels: {
        $allOperations({ model, operation, args, query }) {
          // Rewritten copies: the caller's argument objects (often Pothos's query objects) stay as they were.
          let a = { ...((args ?? {}) as Args) };
          const key = model === 'Organization' ? 'id' : 'organizationId';
          if (WHERE_OPS.has(operation)) a.where = confine(a.where, key, organizationId);
          if (model !== 'Organization') a = confineCursors(a, organizationId);
          if (CREATE_OPS.has(operation) && model !== 'Organization') {
            if (operation === 'upsert') a.create = { ...a.create, organizationId };
            else if (Array.isArray(a.data)) a.data = a.data.map((row) => ({ ...row, organizationId }));
            else a.data = { ...(a.data as object), organizationId };
          }
          if (CREATE_OPS.has(operation) && model === 'Organization') {
            throw new Error('Organizations are created outside a tenant scope');
          }
          return query(a);
        },
      },
    },
  }) as unknown as PrismaClient;
}

/**
 * Adds `key = organizationId` to a where clause. A plain equality keeps Prisma able to batch findUnique calls;
 * when the caller already names another value (another organization's id) both conditions must hold, so
 * the result is empty rather than silently redirected to the caller's own organization.
 */
function confine(where: Record<string, unknown> = {}, key: string, organizationId: string) {
  const given = where[key];
  if (given === undefined || given === organizationId) return { ...where, [key]: organizationId };
  const and = where.AND === undefined ? [] : Array.isArray(where.AND) ? where.AND : [where.AND];
  return { ...where, AND: [...and, { [key]: organizationId }] };
}

/**
 * Confines the cursor of a read and of every nested relation read in its include/select to the organization
 * (every model but Organization has organizationId; a relation to an organization is to-one, without cursor).
 * Prisma takes extra fields in a cursor's unique input as conditions on the cursor row.
 */
function confineCursors<T extends Args>(args: T, organizationId: string): T {
  let out = args;
  if (args.cursor) out = { ...out, cursor: confine(args.cursor, 'organizationId', organizationId) };
  for (const field of ['include', 'select'] as const) {
    const nested = args[field];
    if (!nested) continue;
    let changed = false;
    const rewritten = Object.fromEntries(
      Object.entries(nested).map(([name, value]) => {
        if (!value || typeof value !== 'object') return [name, value];
        const confined = confineCursors(value as Args, organizationId);
        changed ||= confined !== value;
        return [name, confined];
      }),
    );
    if (changed) out = { ...out, [field]: rewritten };
  }
  return out;
}

/**
 * One scoped client per organization, reused across requests instead of a new extension per request (less
 * allocation on the hot path). Bounded, least recently used dropped first.
 */
export class ScopedClients {
  private readonly clients = new Map<string, PrismaClient>();
  constructor(
    private readonly prisma: PrismaClient,
    private readonly max = 1000,
  ) {}

  for(organizationId: string): PrismaClient {
    let client = this.clients.get(organizationId);
    if (client) {
      this.clients.delete(organizationId);
    } else {
      client = scopedPrisma(this.prisma, organizationId);
      if (this.clients.size >= this.max) this.clients.delete(this.clients.keys().next().value!);
    }
    this.clients.set(organizationId, client);
    return client;
  }
}

/**
 * Access beyond the caller's own organization, for server administration only (domain/administration.ts checks the
 * role before using it): each organization is still reached through its scoped client; `root` is unscoped and serves
 * only organization rows and finding which organization a user or key belongs to.
 */
export interface Tenants {
  for(organizationId: string): PrismaClient;
  readonly root: PrismaClient;
}
