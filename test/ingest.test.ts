import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import iconv from 'iconv-lite';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { multipart, uploadOne, type UploadPart } from './support/upload.js';
import { until as waitUntil } from './support/wait.js';

const FILE_STATE = `query($id: ID!) { file(id: $id) { id fileName originalFileName processingStatus errorMessage processingNote totalChunks chunksEmbedded content mediaType } }`;

async function makePdf(pages: string[]): Promise<Uint8Array> {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  for (const text of pages) pdf.addPage().drawText(text, { x: 50, y: 700, size: 12, font });
  return pdf.save();
}

async function makeDocx(): Promise<Uint8Array> {
  const doc = new Document({
    sections: [
      {
        children: [
          new Paragraph({ text: 'Installation', heading: HeadingLevel.HEADING_1 }),
          new Paragraph('Run the installer and accept the defaults for the quarry docx marker.'),
        ],
      },
    ],
  });
  return new Uint8Array(await Packer.toBuffer(doc));
}

describe.each(databaseKinds())('ingestion on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind, {}, { MAX_UPLOAD_BYTES: 256 * 1024, MAX_UPLOAD_FILES: 3 });
    ({ url } = await t.app.listen());
  });
  afterAll(() => t.close());

  async function newSource(apiKey: string, name = 'docs', extra = '') {
    const r = await t.gqlOk(apiKey, `mutation { createSource(input: { name: "${name}" ${extra} }) { source { id } } }`);
    return r.createSource.source.id as string;
  }

  /** Polls the file until it ends; returns every status seen along the way and the final state. */
  async function settle(apiKey: string, fileId: string, timeoutMs = 20_000) {
    const seen: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { file } = await t.gqlOk(apiKey, FILE_STATE, { id: fileId });
      if (seen.at(-1) !== file.processingStatus) seen.push(file.processingStatus);
      if (file.processingStatus === 'COMPLETED' || file.processingStatus === 'ERROR') return { file, seen };
      if (Date.now() > deadline) throw new Error(`file ${fileId} still ${file.processingStatus}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function passagesOf(fileId: string) {
    return t.db.prisma.passage.findMany({ where: { fileId }, orderBy: { chunkIndex: 'asc' }, select: { chunkIndex: true, text: true, metadata: true, embeddingDim: true, fileName: true } });
  }

  async function uploadOk(apiKey: string, sourceId: string, part: UploadPart, options = {}) {
    const r = await uploadOne(url, apiKey, sourceId, part, options);
    expect(r.errors).toBeUndefined();
    return r.data.uploadFile;
  }

  it('uploads a text file and processes it into passages with offsets, then completes its job', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey, 'docs', ', embeddingChunkSize: 64');
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} talks about granite quarries and their stone.`).join(' ');
    const up = await uploadOk(org.apiKey, sourceId, { name: 'notes.txt', content: text, type: 'text/plain' });
    expect(up).toMatchObject({ outcome: 'CREATED', name: 'notes.txt', file: { fileName: 'notes.txt', originalFileName: 'notes.txt', mediaType: 'text/plain', sizeBytes: text.length } });
    expect(['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED']).toContain(up.file.processingStatus);
    const { file, seen } = await settle(org.apiKey, up.file.id);
    expect(file).toMatchObject({ processingStatus: 'COMPLETED', errorMessage: null, content: text });
    expect(file.totalChunks).toBeGreaterThan(1);
    expect(file.chunksEmbedded).toBe(file.totalChunks);
    const order = ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED'];
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort((a, b) => a - b));
    const passages = await passagesOf(file.id);
    expect(passages.map((p) => p.chunkIndex)).toEqual([...Array(file.totalChunks).keys()]);
    for (const p of passages) {
      const m = p.metadata as { startOffset: number; endOffset: number; fileName: string };
      expect(text.slice(m.startOffset, m.endOffset)).toBe(p.text);
      expect(m.fileName).toBe('notes.txt');
      expect(p.embeddingDim).toBe(384);
    }
    const job = await t.gqlOk(org.apiKey, 'query($id: ID!) { job(id: $id) { status progress metadata } }', { id: up.job.id });
    expect(job.job).toMatchObject({ status: 'COMPLETED', metadata: { numPassages: file.totalChunks } });
    // searchable
    const hits = await t.gqlOk(org.apiKey, 'query($s: [ID!]) { searchPassages(query: "granite quarries", sourceIds: $s, topK: 3, mode: TEXT) { passage { file { id } } } }', { s: [sourceId] });
    expect(hits.searchPassages).toHaveLength(3);
  });

  it('keeps pages of a PDF, headings of Markdown and DOCX, and decodes non-UTF-8 text', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const pdf = await uploadOk(org.apiKey, sourceId, { name: 'report.pdf', content: await makePdf(['First page about basalt.', 'Second page about marble.', 'Third page about slate.']) });
    const md = await uploadOk(org.apiKey, sourceId, { name: 'guide.md', content: '# Guide\n\nIntro text.\n\n## Setup\n\nInstall the quarry tools.\n' });
    const docx = await uploadOk(org.apiKey, sourceId, { name: 'manual.docx', content: await makeDocx() });
    const latin1 = await uploadOk(org.apiKey, sourceId, { name: 'legacy.txt', content: iconv.encode('Café crème brûlée à la façon du carrier, déjà servie.', 'windows-1252') });
    const utf16 = await uploadOk(org.apiKey, sourceId, { name: 'wide.txt', content: iconv.encode('\ufeffUTF-16 text about quartz', 'utf-16le') });

    const pdfState = await settle(org.apiKey, pdf.file.id);
    expect(pdfState.file.processingStatus).toBe('COMPLETED');
    const pdfPassages = await passagesOf(pdf.file.id);
    expect(pdfPassages.map((p) => (p.metadata as any).page)).toEqual([1, 2, 3]);
    expect(pdfPassages[1].text).toContain('marble');

    await settle(org.apiKey, md.file.id);
    const mdPassages = await passagesOf(md.file.id);
    expect(mdPassages.find((p) => p.text.includes('Install'))!.metadata).toMatchObject({ headingPath: ['Guide', 'Setup'] });

    const docxState = await settle(org.apiKey, docx.file.id);
    expect(docxState.file.content).toContain('quarry docx marker');
    expect((await passagesOf(docx.file.id))[0].metadata).toMatchObject({ headingPath: ['Installation'] });

    expect((await settle(org.apiKey, latin1.file.id)).file.content).toBe('Café crème brûlée à la façon du carrier, déjà servie.');
    expect((await settle(org.apiKey, utf16.file.id)).file.content).toBe('UTF-16 text about quartz');
  });

  it.each([
    ['data.json', '{"title": "Quarry", "items": [{"name": "granite"}]}', 'granite'],
    ['rows.jsonl', '{"a": "first line"}\n{"a": "second jsonl line"}\n', 'second jsonl line'],
    ['table.csv', 'name,rock\nalpha,granite\nbeta,marble csv\n', 'marble csv'],
    ['page.html', '<html><body><h1>Title</h1><p>HTML paragraph about slate.</p><script>evil()</script></body></html>', 'HTML paragraph about slate.'],
    ['conf.xml', '<config><rock>xml basalt</rock></config>', 'xml basalt'],
    ['conf.yaml', 'rock: yaml limestone\nlist:\n  - a\n', 'yaml limestone'],
    ['conf.toml', '[rock]\nname = "toml gneiss"\n', 'toml gneiss'],
    ['tool.py', 'def dig(depth: int) -> str:\n    """Digs python sandstone."""\n    return "ok"\n', 'python sandstone'],
    ['main.go', 'package main\n\n// go schist\nfunc main() {}\n', 'go schist'],
  ])('processes %s', async (name, content, marker) => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const up = await uploadOk(org.apiKey, sourceId, { name, content });
    const { file } = await settle(org.apiKey, up.file.id);
    expect(file.processingStatus).toBe('COMPLETED');
    const passages = await passagesOf(up.file.id);
    expect(passages.length).toBeGreaterThan(0);
    expect(passages.map((p) => p.text).join('\n')).toContain(marker);
    if (name === 'page.html') expect(file.content).not.toContain('evil');
  });

  it('completes an empty file with zero passages and a note', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const up = await uploadOk(org.apiKey, sourceId, { name: 'empty.txt', content: '' });
    const { file } = await settle(org.apiKey, up.file.id);
    expect(file).toMatchObject({ processingStatus: 'COMPLETED', totalChunks: 0, chunksEmbedded: 0, errorMessage: null });
    expect(file.processingNote).toMatch(/no text|empty/i);
    const blank = await uploadOk(org.apiKey, sourceId, { name: 'image-only.pdf', content: await makePdf(['']) });
    const pdf = await settle(org.apiKey, blank.file.id);
    expect(pdf.file).toMatchObject({ processingStatus: 'COMPLETED', totalChunks: 0 });
    expect(pdf.file.processingNote).toBeTruthy();
  });

  it('follows Letta’s duplicate handling: suffix, skip, error', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const part = { name: 'test.txt', content: 'same content' };
    const a = await uploadOk(org.apiKey, sourceId, part);
    const b = await uploadOk(org.apiKey, sourceId, part);
    const c = await uploadOk(org.apiKey, sourceId, part, { duplicateHandling: 'SUFFIX' });
    expect([a, b, c].map((u) => u.file.fileName)).toEqual(['test.txt', 'test_(1).txt', 'test_(2).txt']);
    expect([a, b, c].map((u) => u.file.originalFileName)).toEqual(['test.txt', 'test.txt', 'test.txt']);

    const skipped = await uploadOk(org.apiKey, sourceId, part, { duplicateHandling: 'SKIP' });
    // The file listed under the name (not a suffixed copy of it).
    expect(skipped).toMatchObject({ outcome: 'SKIPPED', job: null, file: { id: a.file.id } });

    const error = await uploadOne(url, org.apiKey, sourceId, part, { duplicateHandling: 'ERROR' });
    expect(error.errors?.[0]).toMatchObject({ message: "File 'test.txt' already exists in source 'docs'", extensions: { code: 'CONFLICT' } });
    expect(await t.db.prisma.file.count({ where: { sourceId } })).toBe(3);

    const custom = await uploadOk(org.apiKey, sourceId, part, { name: 'folder_a/folder_b/x.txt' });
    expect(custom.file).toMatchObject({ fileName: 'folder_a/folder_b/x.txt', originalFileName: 'folder_a/folder_b/x.txt' });
    for (const u of [a, b, c, custom]) await settle(org.apiKey, u.file.id);
  });

  it('refuses uploads over MAX_UPLOAD_BYTES, unsupported types and path tricks, storing nothing', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const big = await uploadOne(url, org.apiKey, sourceId, { name: 'big.txt', content: 'x'.repeat(256 * 1024 + 1) });
    expect(big.errors?.[0].extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(big.errors?.[0].message).toContain('256 KiB');
    const exact = await uploadOne(url, org.apiKey, sourceId, { name: 'exact.txt', content: 'y'.repeat(256 * 1024) });
    expect(exact.errors).toBeUndefined();

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const image = await uploadOne(url, org.apiKey, sourceId, { name: 'photo.png', content: png, type: 'image/png' });
    expect(image.errors?.[0].extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(image.errors?.[0].message).toMatch(/Unsupported file type: image\/png \(filename: photo\.png\)\. Supported types: .*PDF/);
    const binary = await uploadOne(url, org.apiKey, sourceId, { name: 'tool.exe', content: new Uint8Array([0x4d, 0x5a, 0, 0, 0xff, 0]) });
    expect(binary.errors?.[0].extensions?.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const traversal = await uploadOk(org.apiKey, sourceId, { name: '../../etc/pass\twd.txt', content: 'escape attempt' });
    expect(traversal.file.originalFileName).toBe('passwd.txt');
    for (const bad of ['../x.txt', '/abs.txt', 'a//b.txt', 'a\\b.txt', 'bad\u0000name.txt']) {
      const r = await uploadOne(url, org.apiKey, sourceId, { name: 'ok.txt', content: 'x' }, { name: bad });
      expect(r.errors?.[0].extensions?.code, bad).toBe('BAD_USER_INPUT');
    }
    const dot = await uploadOne(url, org.apiKey, sourceId, { name: '.env', content: 'SECRET=1' });
    expect(dot.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');

    const files = await t.db.prisma.file.findMany({ where: { sourceId }, select: { originalFileName: true } });
    expect(files.map((f) => f.originalFileName).sort()).toEqual(['exact.txt', 'passwd.txt']);
    expect(await t.db.prisma.fileBlob.count({ where: { organizationId: org.organizationId } })).toBe(2);
  });

  it('uploadFiles stores several files with one result each, and refuses more than MAX_UPLOAD_FILES', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const query = `mutation($input: UploadFilesInput!) { uploadFiles(input: $input) { outcome name file { id } error { code message } } }`;
    const parts = [
      { name: 'a.txt', content: 'alpha' },
      { name: 'b.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
      { name: 'c.md', content: '# C' },
    ];
    const r = await multipart(url, org.apiKey, query, { input: { sourceId, files: [null, null, null] } }, parts.map((part, i) => ({ path: `variables.input.files.${i}`, part })));
    expect(r.errors).toBeUndefined();
    expect(r.data.uploadFiles.map((x: any) => [x.outcome, x.name, x.error?.code ?? null])).toEqual([
      ['CREATED', 'a.txt', null],
      ['FAILED', 'b.png', 'UNSUPPORTED_MEDIA_TYPE'],
      ['CREATED', 'c.md', null],
    ]);
    const four = [...parts, { name: 'd.txt', content: 'd' }];
    const tooMany = await multipart(url, org.apiKey, query, { input: { sourceId, files: [null, null, null, null] } }, four.map((part, i) => ({ path: `variables.input.files.${i}`, part })));
    expect(tooMany.status).toBe(413);
    expect(tooMany.errors?.[0].extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await t.db.prisma.file.count({ where: { sourceId } })).toBe(2);
  });

  it('never uploads into another organization’s source, and needs a key', async () => {
    const a = await t.seed();
    const b = await t.seed();
    const sourceId = await newSource(a.apiKey);
    const foreign = await uploadOne(url, b.apiKey, sourceId, { name: 'x.txt', content: 'intrusion' });
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const anonymous = await uploadOne(url, null as unknown as string, sourceId, { name: 'x.txt', content: 'intrusion' });
    expect(anonymous.status).toBe(401);
    expect(await t.db.prisma.file.count({ where: { sourceId } })).toBe(0);
  });

  it('re-embeds a source’s files when its embedding changes, and reprocesses a file on request', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const up = await uploadOk(org.apiKey, sourceId, { name: 'a.txt', content: 'Text about feldspar crystals. '.repeat(30) });
    await settle(org.apiKey, up.file.id);
    expect(new Set((await passagesOf(up.file.id)).map((p) => p.embeddingDim))).toEqual(new Set([384]));
    await t.gqlOk(
      org.apiKey,
      'mutation($id: ID!) { updateSource(id: $id, input: { embeddingConfig: { endpointType: "local", model: "lexical-128", dim: 128, chunkSize: 64 } }) { source { id } } }',
      { id: sourceId },
    );
    const jobs = await t.gqlOk(org.apiKey, 'query($s: ID!) { jobs(sourceId: $s) { edges { node { id } } } }', { s: sourceId });
    expect(jobs.jobs.edges).toHaveLength(2);
    const deadline = Date.now() + 20_000;
    while ((await passagesOf(up.file.id)).some((p) => p.embeddingDim !== 128)) {
      if (Date.now() > deadline) throw new Error('not re-embedded');
      await new Promise((r) => setTimeout(r, 50));
    }
    const { file } = await settle(org.apiKey, up.file.id);
    expect(file.processingStatus).toBe('COMPLETED');
    const count = (await passagesOf(up.file.id)).length;
    expect(count).toBe(file.totalChunks);

    const again = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { reprocessFile(id: $id) { job { id status } file { id } } }', { id: up.file.id });
    expect(again.reprocessFile.file.id).toBe(up.file.id);
    const twice = await t.gql(org.apiKey, 'mutation($id: ID!) { reprocessFile(id: $id) { job { id } } }', { id: up.file.id });
    // Either the first is still running (CONFLICT) or it already finished (a new job): never two at once.
    if (twice.errors) expect(twice.errors[0].extensions?.code).toBe('CONFLICT');
    await settle(org.apiKey, up.file.id);
    // The replaced passage set is deleted after the swap, in the background: in the end one set is left.
    await waitUntil(async () => (await passagesOf(up.file.id)).length, (n) => n === count);
  });
});

describe.each(databaseKinds())('ingestion with an OpenAI-compatible provider on %s', (kind) => {
  let t: TestApp;
  let url: string;
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url }, {
      embedderOptions: { retryBaseDelayMs: 10, retryMaxDelayMs: 1000, maxAttempts: 2, timeoutMs: 10_000 },
    });
    ({ url } = await t.app.listen());
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  async function newSource(apiKey: string) {
    const r = await t.gqlOk(apiKey, 'mutation { createSource(input: { name: "remote", embedding: "openai/text-embedding-3-small", embeddingChunkSize: 64 }) { source { id } } }');
    return r.createSource.source.id as string;
  }


  const until = <T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 15_000) => waitUntil(read, done, timeoutMs);

  const fileState = (apiKey: string, id: string) => t.gql(apiKey, FILE_STATE, { id }).then((r) => (r.errors ? null : r.data.file));
  const ended = (f: any) => f && (f.processingStatus === 'COMPLETED' || f.processingStatus === 'ERROR');

  it('REPLACE keeps the old file searchable until the new one completes, then swaps them in one step', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const old = (await uploadOne(url, org.apiKey, sourceId, { name: 'rocks.txt', content: 'old text about obsidian' })).data.uploadFile;
    await until(() => fileState(org.apiKey, old.file.id), ended);

    fake.fallback = 'hold';
    try {
      const next = (await uploadOne(url, org.apiKey, sourceId, { name: 'rocks.txt', content: 'new text about pumice' }, { duplicateHandling: 'REPLACE' })).data.uploadFile;
      expect(next).toMatchObject({ outcome: 'REPLACED', file: { fileName: 'rocks.txt' } });
      await until(() => fileState(org.apiKey, next.file.id), (f) => f?.processingStatus === 'EMBEDDING');
      const during = await t.gqlOk(org.apiKey, 'query($s: [ID!]) { searchPassages(query: "obsidian", sourceIds: $s, mode: TEXT) { passage { file { id } } } }', { s: [sourceId] });
      expect(during.searchPassages.map((h: any) => h.passage.file.id)).toEqual([old.file.id]);
      expect((await fileState(org.apiKey, old.file.id)).processingStatus).toBe('COMPLETED');
      fake.fallback = 'ok';
      fake.release();
      expect((await until(() => fileState(org.apiKey, next.file.id), ended)).processingStatus).toBe('COMPLETED');
      expect(await fileState(org.apiKey, old.file.id)).toBeNull();
      const files = await t.db.prisma.file.findMany({ where: { sourceId }, select: { id: true } });
      expect(files).toEqual([{ id: next.file.id }]);
      const after = await t.gqlOk(org.apiKey, 'query($s: [ID!]) { o: searchPassages(query: "obsidian", sourceIds: $s, mode: TEXT) { score } p: searchPassages(query: "pumice", sourceIds: $s, mode: TEXT) { passage { file { id } } } }', { s: [sourceId] });
      expect(after.o).toEqual([]);
      expect(after.p.map((h: any) => h.passage.file.id)).toEqual([next.file.id]);
    } finally {
      fake.fallback = 'ok';
      fake.release();
    }
  });

  it('cancelJob stops a file during embedding and before it starts; nothing is stored', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    fake.fallback = 'hold';
    try {
      const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'long.txt', content: 'Words about gabbro. '.repeat(200) })).data.uploadFile;
      await until(() => fileState(org.apiKey, up.file.id), (f) => f?.processingStatus === 'EMBEDDING');
      await until(async () => fake.holding, (n) => n > 0);
      await t.gqlOk(org.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: up.job.id });
      const file = await until(() => fileState(org.apiKey, up.file.id), ended);
      expect(file).toMatchObject({ processingStatus: 'ERROR', errorMessage: 'Processing was cancelled' });
      const job = await t.gqlOk(org.apiKey, 'query($id: ID!) { job(id: $id) { status } }', { id: up.job.id });
      expect(job.job.status).toBe('CANCELLED');
      expect(await t.db.prisma.passage.count({ where: { sourceId } })).toBe(0);
    } finally {
      fake.fallback = 'ok';
      fake.release();
    }

    const idle = await createTestApp(kind, {}, {}, { workers: false });
    try {
      const other = await idle.seed();
      const s = (await idle.gqlOk(other.apiKey, 'mutation { createSource(input: { name: "idle" }) { source { id } } }')).createSource.source.id;
      const { url: idleUrl } = await idle.app.listen();
      const up = (await uploadOne(idleUrl, other.apiKey, s, { name: 'wait.txt', content: 'never processed' })).data.uploadFile;
      expect(up.file.processingStatus).toBe('PENDING');
      const cancelled = await idle.gqlOk(other.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { status } } }', { id: up.job.id });
      expect(cancelled.cancelJob.job.status).toBe('CANCELLED');
      const f = await idle.gqlOk(other.apiKey, FILE_STATE, { id: up.file.id });
      expect(f.file).toMatchObject({ processingStatus: 'ERROR', errorMessage: 'Processing was cancelled' });
    } finally {
      await idle.close();
    }
  });

  it('waits out throttling (429 with Retry-After) and completes', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    const before = fake.requests;
    fake.script.push({ status: 429, retryAfter: '0.05' }, { status: 503 });
    const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'busy.txt', content: 'Throttled text about tuff.' })).data.uploadFile;
    const file = await until(() => fileState(org.apiKey, up.file.id), ended);
    expect(file.processingStatus).toBe('COMPLETED');
    expect(fake.requests - before).toBe(3);
  });

  it('ends in ERROR with the reason when the provider keeps failing or answers with the wrong dimension', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey);
    fake.fallback = { status: 500 };
    try {
      const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'down.txt', content: 'Provider outage text.' })).data.uploadFile;
      const file = await until(() => fileState(org.apiKey, up.file.id), ended);
      expect(file.processingStatus).toBe('ERROR');
      expect(file.errorMessage).toMatch(/^Embedding failed: .*500/);
      const job = await t.gqlOk(org.apiKey, 'query($id: ID!) { job(id: $id) { status attempts } }', { id: up.job.id }).catch(async () =>
        t.gqlOk(org.apiKey, 'query($id: ID!) { job(id: $id) { status } }', { id: up.job.id }),
      );
      expect(job.job.status).toBe('FAILED');
    } finally {
      fake.fallback = 'ok';
    }
    fake.script.push('wrong-dim');
    const wrong = (await uploadOne(url, org.apiKey, sourceId, { name: 'wrong.txt', content: 'Wrong dimension text.' })).data.uploadFile;
    const file = await until(() => fileState(org.apiKey, wrong.file.id), ended);
    expect(file.processingStatus).toBe('ERROR');
    expect(file.errorMessage).toMatch(/dimension|1537/);
    expect(await t.db.prisma.passage.count({ where: { sourceId } })).toBe(0);
  });
});
