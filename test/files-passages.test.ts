import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewOrganization } from '../src/domain/organizations.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds, liveSetOf, setFileText } from './support/db.js';

describe.each(databaseKinds())('files and passages on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  /** A source with files, their content and embedded passages, written as ingestion would. */
  async function seedSource(org: NewOrganization, name: string, files: string[]) {
    const source = await t.db.prisma.source.create({
      data: { organizationId: org.organizationId, name, embeddingConfig: { endpointType: 'local', model: 'lexical-384', dim: 3, chunkSize: 300 } },
    });
    const made = [];
    for (const fileName of files) {
      const file = await t.db.prisma.file.create({
        data: {
          organizationId: org.organizationId,
          sourceId: source.id,
          fileName: `${name}/${fileName}`,
          originalFileName: fileName,
          mediaType: 'text/plain',
          sizeBytes: 11,
          processingStatus: 'COMPLETED',
          totalChunks: 2,
          chunksEmbedded: 2,
        },
      });
      await setFileText(t.db.prisma, org.organizationId, file.id, `hello ${fileName}`);
      const setId = await liveSetOf(t.db.prisma, org.organizationId, file.id);
      for (const chunkIndex of [0, 1]) {
        await t.db.prisma.$executeRaw`
          INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "setId", "fileName", "chunkIndex", text, "embeddingDim", embedding, "updatedAt")
          VALUES (${org.organizationId}, ${source.id}, ${file.id}, ${setId}, ${file.fileName}, ${chunkIndex}, ${`chunk ${chunkIndex} of ${fileName}`}, 3, ${`[${chunkIndex},0.5,1]`}::vector, now())`;
      }
      made.push(file);
    }
    return { source, files: made };
  }

  it('lists a source’s files newest first, with status filter, counts and content only when asked', async () => {
    const org = await t.seed();
    const { source, files } = await seedSource(org, 'docs', ['a.txt', 'b.txt', 'c.txt']);
    await t.db.prisma.file.update({ where: { id: files[1].id }, data: { processingStatus: 'ERROR', errorMessage: 'boom' } });
    const result = await t.gqlOk(
      org.apiKey,
      `query($id: ID!) { source(id: $id) { fileCount files(first: 2) { edges { node { fileName storedFileName processingStatus } } pageInfo { hasNextPage } }
         failed: files(status: ERROR) { edges { node { fileName errorMessage } } } } }`,
      { id: source.id },
    );
    expect(result.source.fileCount).toBe(3);
    expect(result.source.files.edges.map((e: any) => e.node.fileName)).toEqual(['c.txt', 'b.txt']);
    expect(result.source.files.edges[0].node.storedFileName).toBe('docs/c.txt');
    expect(result.source.failed.edges).toEqual([{ node: { fileName: 'b.txt', errorMessage: 'boom' } }]);
    const file = await t.gqlOk(org.apiKey, 'query($id: ID!) { file(id: $id) { fileName content source { name } totalChunks chunksEmbedded processingStatus } }', { id: files[0].id });
    expect(file.file).toEqual({ fileName: 'a.txt', content: 'hello a.txt', source: { name: 'docs' }, totalChunks: 2, chunksEmbedded: 2, processingStatus: 'COMPLETED' });
  });

  it('pages a source’s files forwards and backwards, a page per parent in one statement', async () => {
    const org = await t.seed();
    const { source } = await seedSource(org, 'many', ['1.txt', '2.txt', '3.txt', '4.txt', '5.txt']);
    const page = (args: string) => t.gqlOk(org.apiKey, `query($id: ID!) { source(id: $id) { files(${args}) { edges { cursor node { originalFileName } } pageInfo { hasNextPage hasPreviousPage } } } }`, { id: source.id });
    const names = (r: any) => r.source.files.edges.map((e: any) => e.node.originalFileName);
    const first = await page('first: 2');
    expect(names(first)).toEqual(['5.txt', '4.txt']);
    expect(first.source.files.pageInfo.hasNextPage).toBe(true);
    const next = await page(`first: 2, after: "${first.source.files.edges[1].cursor}"`);
    expect(names(next)).toEqual(['3.txt', '2.txt']);
    const last = await page('last: 2');
    expect(names(last)).toEqual(['2.txt', '1.txt']);
    const before = await page(`last: 1, before: "${next.source.files.edges[0].cursor}"`);
    expect(names(before)).toEqual(['4.txt']);
    expect((await t.gql(org.apiKey, `{ sources { edges { node { files(first: -1) { edges { cursor } } } } } }`)).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('pages passages by source and file, with vectors at their native dimension', async () => {
    const org = await t.seed();
    const { source, files } = await seedSource(org, 'p', ['one.txt', 'two.txt']);
    const all = await t.gqlOk(org.apiKey, 'query($s: ID) { passages(sourceId: $s, first: 3) { totalCount edges { node { text chunkIndex fileName embedding file { originalFileName } source { name } } } pageInfo { hasNextPage endCursor } } }', { s: source.id });
    expect(all.passages.totalCount).toBe(4);
    expect(all.passages.edges.map((e: any) => e.node.text)).toEqual(['chunk 0 of one.txt', 'chunk 1 of one.txt', 'chunk 0 of two.txt']);
    expect(all.passages.edges[1].node).toMatchObject({ chunkIndex: 1, fileName: 'p/one.txt', embedding: [1, 0.5, 1], file: { originalFileName: 'one.txt' }, source: { name: 'p' } });
    const rest = await t.gqlOk(org.apiKey, 'query($s: ID, $a: String) { passages(sourceId: $s, first: 3, after: $a) { edges { node { text } } pageInfo { hasNextPage } } }', { s: source.id, a: all.passages.pageInfo.endCursor });
    expect(rest.passages).toEqual({ edges: [{ node: { text: 'chunk 1 of two.txt' } }], pageInfo: { hasNextPage: false } });
    const ofFile = await t.gqlOk(org.apiKey, 'query($f: ID) { passages(fileId: $f) { totalCount } }', { f: files[1].id });
    expect(ofFile.passages.totalCount).toBe(2);
    const nested = await t.gqlOk(org.apiKey, 'query($id: ID!) { file(id: $id) { passages { edges { node { chunkIndex } } } } source(id: $id2) { passageCount } }'.replace('$id2', '"' + source.id + '"'), { id: files[0].id });
    expect(nested).toEqual({ file: { passages: { edges: [{ node: { chunkIndex: 0 } }, { node: { chunkIndex: 1 } }] } }, source: { passageCount: 4 } });
  });

  it('deletes a file with its content and passages; a second delete is NOT_FOUND', async () => {
    const org = await t.seed();
    const { source, files } = await seedSource(org, 'd', ['x.txt', 'y.txt']);
    const del = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { deleteFile(id: $id) { deletedFileId source { fileCount passageCount } } }', { id: files[0].id });
    expect(del.deleteFile).toEqual({ deletedFileId: files[0].id, source: { fileCount: 1, passageCount: 2 } });
    expect(await t.db.prisma.fileContent.count({ where: { fileId: files[0].id } })).toBe(0);
    const again = await t.gql(org.apiKey, 'mutation($id: ID!) { deleteFile(id: $id) { deletedFileId } }', { id: files[0].id });
    expect(again.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    void source;
  });

  it("never shows another organization's files or passages, through any field", async () => {
    const a = await t.seed();
    const b = await t.seed();
    const theirs = await seedSource(b, 'theirs', ['s.txt']);
    const passage = await t.db.prisma.passage.findFirstOrThrow({ where: { sourceId: theirs.source.id } });
    const missingFile = 'file-00000000-0000-4000-8000-000000000000';
    const read = (id: string) => t.gql(a.apiKey, 'query($id: ID!) { file(id: $id) { id } }', { id });
    const [foreign, missing] = [await read(theirs.files[0].id), await read(missingFile)];
    expect(foreign.errors?.map((e) => e.extensions?.code)).toEqual(missing.errors?.map((e) => e.extensions?.code));
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gqlOk(a.apiKey, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [theirs.files[0].id, passage.id, theirs.source.id] })).nodes).toEqual([null, null, null]);
    expect((await t.gqlOk(a.apiKey, 'query($s: ID) { passages(sourceId: $s) { totalCount } }', { s: theirs.source.id })).passages.totalCount).toBe(0);
    expect((await t.gqlOk(a.apiKey, '{ passages { totalCount } }')).passages.totalCount).toBe(0);
    expect((await t.gql(a.apiKey, 'mutation($id: ID!) { deleteFile(id: $id) { deletedFileId } }', { id: theirs.files[0].id })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(await t.db.prisma.file.count({ where: { id: theirs.files[0].id } })).toBe(1);
  });

  it('rejects malformed ids in passage filters', async () => {
    const org = await t.seed();
    const result = await t.gql(org.apiKey, '{ passages(sourceId: "file-00000000-0000-4000-8000-000000000000") { totalCount } }');
    expect(result.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceId' });
  });
});
