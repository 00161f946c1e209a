import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/core/db/index.js';
import { exportOrganization, importOrganization } from '../src/domain/org-transfer.js';
import { createAgentFromTemplate, createTemplateFromAgent } from '../src/domain/templates.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds, openTestDatabase } from './support/db.js';
import { buildWorld, type World } from './support/rest.js';

/** Rows of every table of an organization, ids aside: what a copy must reproduce. */
const TABLES = ['User', 'Source', 'File', 'FileContent', 'FileBlob', 'PassageSet', 'Passage', 'Agent', 'SourceAgent', 'ToolAgent', 'FileAgent', 'Tool', 'Job', 'Run', 'RunStep', 'AgentTemplate', 'AgentTemplateVersion', 'BatchItem', 'Message'];

async function counts(db: Database, organizationId: string) {
  return db.withRunner(async (sql) => {
    const out: Record<string, number> = {};
    for (const table of TABLES) {
      const [row] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE "organizationId" = $1`, [organizationId]);
      out[table] = row.n;
    }
    return out;
  });
}

const vectors = (db: Database, organizationId: string) =>
  db.withRunner((sql) =>
    sql.query<{ text: string; embedding: string }>(
      `SELECT text, embedding::text AS embedding FROM "Passage" WHERE "organizationId" = $1 AND fts @@ plainto_tsquery('english', text) ORDER BY "fileName", "chunkIndex"`,
      [organizationId],
    ),
  );

async function* linesOf(lines: string[]) {
  yield* lines;
}

describe.each(databaseKinds())('organization export and import on %s', (kind) => {
  let t: TestApp;
  let world: World;
  const lines: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(kind, {}, {}, { workers: false });
    world = await buildWorld(t);
    const { tenant } = world;
    // A template of the agent and an agent made from it: Agent and AgentTemplate refer to each other.
    const captured = await createTemplateFromAgent(tenant.db, tenant.actor, { agentId: world.agentId, name: 'tpl' });
    await createAgentFromTemplate(tenant.db, tenant.actor, { templateId: captured.template.id, name: 'from-template', memoryVariables: { user_name: 'Ann' } });
    // Stored bytes (an upload's original) and a replacement chain (File refers to File).
    await tenant.db.fileBlob.create({ data: { organizationId: tenant.organizationId, fileId: world.files[0].id, seq: 0, data: Buffer.from([0, 1, 2, 255]) } });
    await tenant.db.file.update({ where: { id: world.files[1].id }, data: { replacesFileId: world.files[0].id } });
    await t.db.withRunner((sql) => exportOrganization(sql, tenant.organizationId, (line) => void lines.push(line)));
  });
  afterAll(() => t.close());

  it('exports a header, every row of the organization (no API keys), and an end line', () => {
    expect(JSON.parse(lines[0])).toMatchObject({ quarry: 'organization-export', version: 1, organizationId: world.tenant.organizationId });
    expect(JSON.parse(lines.at(-1)!)).toEqual({ end: true, rows: lines.length - 2 });
    const tables = new Set(lines.slice(1, -1).map((l) => JSON.parse(l).table));
    expect(tables.has('ApiKey')).toBe(false);
    expect(tables.has('Passage')).toBe(true);
    const passage = JSON.parse(lines.find((l) => l.includes('"table":"Passage"'))!).row;
    expect(passage.embedding).toMatch(/^\[/);
    expect(passage.fts).toBeUndefined();
  });

  it('imports into a fresh database with the same ids, vectors and bytes', async () => {
    const fresh = await openTestDatabase('pglite');
    try {
      const result = await fresh.withRunner((sql) => importOrganization(sql, linesOf(lines)));
      expect(result.organizationId).toBe(world.tenant.organizationId);
      expect(await counts(fresh, result.organizationId)).toEqual(await counts(t.db, world.tenant.organizationId));
      expect(await vectors(fresh, result.organizationId)).toEqual(await vectors(t.db, world.tenant.organizationId));
      const ids = await fresh.prisma.passage.findMany({ where: { organizationId: result.organizationId }, select: { id: true } });
      expect(ids.map((p) => p.id).sort()).toEqual(world.passages.map((p) => p.id).sort());
      const blob = await fresh.prisma.fileBlob.findFirstOrThrow({ where: { organizationId: result.organizationId } });
      expect([...blob.data]).toEqual([0, 1, 2, 255]);
      expect((await fresh.prisma.file.findUniqueOrThrow({ where: { id: world.files[1].id } })).replacesFileId).toBe(world.files[0].id);
      expect(await fresh.prisma.apiKey.count()).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('importing again over the same ids is a conflict that writes nothing; with new ids it is a full copy', async () => {
    const before = await t.db.prisma.organization.count();
    await expect(t.db.withRunner((sql) => importOrganization(sql, linesOf(lines)))).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await t.db.prisma.organization.count()).toBe(before);

    const copy = await t.db.withRunner((sql) => importOrganization(sql, linesOf(lines), { newIds: true, name: 'copy' }));
    expect(copy.organizationId).not.toBe(world.tenant.organizationId);
    expect(await counts(t.db, copy.organizationId)).toEqual(await counts(t.db, world.tenant.organizationId));
    expect(await vectors(t.db, copy.organizationId)).toEqual(await vectors(t.db, world.tenant.organizationId));
    const org = await t.db.prisma.organization.findUniqueOrThrow({ where: { id: copy.organizationId } });
    expect(org).toMatchObject({ name: 'copy', isDefault: false });
    // No id of the original in the copy; its links point inside the copy.
    const copied = await t.db.prisma.passage.findMany({ where: { organizationId: copy.organizationId }, select: { id: true, sourceId: true } });
    expect(copied.some((p) => world.ids.includes(p.id) || world.ids.includes(p.sourceId))).toBe(false);
    const sources = await t.db.prisma.source.findMany({ where: { organizationId: copy.organizationId }, select: { id: true } });
    expect(new Set(copied.map((p) => p.sourceId)).size).toBeGreaterThan(0);
    for (const p of copied) expect(sources.map((s) => s.id)).toContain(p.sourceId);
  });

  it('refuses a truncated export or another file, writing nothing', async () => {
    const before = await t.db.prisma.organization.count();
    await expect(t.db.withRunner((sql) => importOrganization(sql, linesOf(lines.slice(0, -1)), { newIds: true }))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(t.db.withRunner((sql) => importOrganization(sql, linesOf(['{"hello":1}'])))).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await t.db.prisma.organization.count()).toBe(before);
  });
});
