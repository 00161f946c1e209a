/**
 * Work that needs a job is refused while jobs cannot be queued (Redis unreachable in production; here the process's
 * queue is closed, which makes it unavailable the same way): SERVICE_UNAVAILABLE over GraphQL, 503 over REST, and
 * nothing is written — no file, no bytes, no job, no changed source. (test/redis-outage.test.ts does it with a real
 * Redis outage.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { uploadOne } from './support/upload.js';

describe.each(databaseKinds())('while jobs cannot be queued (%s)', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind, {}, {}, { workers: false });
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  it('uploads, reprocessing and re-embedding answer SERVICE_UNAVAILABLE (REST 503) and store nothing', async () => {
    const org = await t.seed();
    const { createSource } = await t.gqlOk(org.apiKey, 'mutation { createSource(input: { name: "queue" }) { source { id embeddingConfig { handle } } } }');
    const sourceId = createSource.source.id as string;
    const up = await uploadOne(url, org.apiKey, sourceId, { name: 'a.txt', content: 'Notes on obsidian. '.repeat(20) });
    expect(up.errors).toBeUndefined();
    const fileId = up.data.uploadFile.file.id as string;
    await t.db.prisma.job.updateMany({ where: { fileId }, data: { status: 'COMPLETED' } });

    await t.ingest.stop(); // from now on nothing can be queued
    const snapshot = async () => ({
      files: await t.db.prisma.file.count({ where: { organizationId: org.organizationId } }),
      blobs: await t.db.prisma.fileBlob.count({ where: { organizationId: org.organizationId } }),
      jobs: await t.db.prisma.job.count({ where: { organizationId: org.organizationId } }),
      source: await t.db.prisma.source.findUniqueOrThrow({ where: { id: sourceId }, select: { embeddingConfig: true, updatedAt: true } }),
    });
    const before = await snapshot();

    const graphql = await uploadOne(url, org.apiKey, sourceId, { name: 'b.txt', content: 'Notes on pumice.' });
    expect(graphql.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    const form = new FormData();
    form.append('file', new Blob(['Notes on tuff.'], { type: 'text/plain' }), 'c.txt');
    const rest = await fetch(`${url}/v1/sources/${sourceId}/upload`, { method: 'POST', headers: { authorization: `Bearer ${org.apiKey}` }, body: form });
    expect(rest.status).toBe(503);
    expect((await rest.json()).detail).toMatch(/queue is unreachable/);

    const reprocess = await t.gql(org.apiKey, 'mutation($id: ID!) { reprocessFile(id: $id) { job { id } } }', { id: fileId });
    expect(reprocess.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    const reembed = await t.gql(
      org.apiKey,
      'mutation($id: ID!) { updateSource(id: $id, input: { embeddingConfig: { endpointType: "local", model: "lexical-128", dim: 128 } }) { source { id } } }',
      { id: sourceId },
    );
    expect(reembed.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    // A change that needs no job still works.
    await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { description: "volcanic glass" }) { source { id } } }', { id: sourceId });

    const after = await snapshot();
    expect({ ...after, source: after.source.embeddingConfig }).toEqual({ ...before, source: before.source.embeddingConfig });
  });
});
