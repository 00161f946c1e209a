import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MULTIPART_OVERHEAD } from '../src/rest/multipart.js';
import { exampleId } from '../src/rest/validation.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { jsonClient, multipartBody, rawRequest, type FormPart, type HttpResult } from './support/rest.js';
import { until } from './support/wait.js';

/**
 * Uploads through the Letta REST shim (`POST /v1/sources/{id}/upload`, `/v1/folders/{id}/upload` and the seed's
 * `…/files` alias), over real HTTP against a listening server with its workers running: files are processed to
 * `completed`, duplicates handled as Letta does, and every refusal (type, size, missing part, ids, keys, another
 * organization's source) answered with Letta's status and nothing stored.
 */

const MAX = 64 * 1024;
const TERMINAL = ['completed', 'error'];
/** Text of exactly n bytes, in words (as a real file would be). */
const words = (n: number) => 'gravel '.repeat(Math.ceil(n / 7)).slice(0, n);
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64)]);


/** A request whose body is sent in chunks without a Content-Length (as a streaming client does). */
function chunked(base: string, path: string, headers: Record<string, string>, chunks: Buffer[]): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(new URL(path, base), { method: 'POST', agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text ? JSON.parse(text) : undefined });
      });
    });
    // The server answers a refused body before it has all of it, then closes: only errors before an answer count.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    const next = (i: number) => {
      if (answered || i === chunks.length) return void req.end();
      req.write(chunks[i], () => setImmediate(() => next(i + 1)));
    };
    next(0);
  });
}

describe.each(databaseKinds())('REST uploads on %s', (kind) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    // No recovery sweep within the run (staleMs): jobs other test files leave pending on the shared PostgreSQL
    // database stay theirs; uploads here are queued directly.
    t = await createTestApp(kind, {}, { MAX_UPLOAD_BYTES: MAX }, { ingest: { staleMs: 10 * 60_000 } });
    base = (await t.app.listen()).url;
  });
  afterAll(() => t.close());

  describe.each(['sources', 'folders'] as const)('on /v1/%s', (resource) => {
    const idName = resource === 'folders' ? 'folder_id' : 'source_id';

    async function setup(name = 'kb') {
      const org = await t.seed();
      const call = jsonClient(base, org.apiKey);
      const created = await call('POST', `/v1/${resource}/`, { name, embedding: 'local/lexical-384' });
      expect(created.status, created.text).toBe(200);
      const sourceId: string = created.body.id;

      /** Uploads parts (one `file` part unless told otherwise) with a query string. */
      const upload = (parts: FormPart | FormPart[], query = '', options: { path?: 'upload' | 'files'; key?: string | null; id?: string } = {}) => {
        const { body, contentType } = multipartBody(Array.isArray(parts) ? parts : [parts]);
        const key = options.key === undefined ? org.apiKey : options.key;
        return rawRequest(base, {
          method: 'POST',
          path: `/v1/${resource}/${options.id ?? sourceId}/${options.path ?? 'upload'}${query ? `?${query}` : ''}`,
          headers: { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body,
        });
      };
      const file = (filename: string, content: string | Uint8Array, type: string | null = 'text/plain'): FormPart => ({ name: 'file', filename, type, content });
      const getFile = (id: string) => call('GET', `/v1/${resource}/${sourceId}/files/${id}`);
      const processed = (id: string) => until(() => getFile(id), (res) => TERMINAL.includes(res.body?.processing_status));
      const files = async () => (await call('GET', `/v1/${resource}/${sourceId}/files?order=asc`)).body as any[];
      return { org, call, sourceId, name, upload, file, getFile, processed, files };
    }

    it('stores a txt and an md file, answering at once with the stored name; both are processed to completed and their passages listed', async () => {
      const s = await setup('handbook');
      // A real multipart client (undici's FormData), with a name outside ASCII.
      const form = new FormData();
      form.append('file', new Blob(['Granite is an igneous rock.\n\nBasalt forms from lava.'], { type: 'text/plain' }), 'roches-été.txt');
      const sent = await fetch(`${base}/v1/${resource}/${s.sourceId}/upload`, { method: 'POST', headers: { authorization: `Bearer ${s.org.apiKey}` }, body: form });
      expect(sent.status).toBe(200);
      const txt = await sent.json();
      expect(txt).toMatchObject({
        source_id: s.sourceId,
        // Letta's upload answer keeps the stored `<source name>/` prefix; lists and reads strip it.
        file_name: 'handbook/roches-été.txt',
        original_file_name: 'roches-été.txt',
        file_type: 'text/plain',
        file_size: Buffer.byteLength('Granite is an igneous rock.\n\nBasalt forms from lava.'),
        organization_id: s.org.organizationId,
        content: null,
      });
      expect(txt.id).toMatch(/^file-[0-9a-f-]{36}$/);
      expect(TERMINAL).not.toContain(txt.processing_status);

      const md = await s.upload(s.file('guide.md', '# Guide\n\nStep one: read the obsidian notes.\n\n## Later\n\nStep two: polish.', 'text/markdown'));
      expect(md.status, md.text).toBe(200);
      expect(md.body).toMatchObject({ file_name: 'handbook/guide.md', original_file_name: 'guide.md', file_type: 'text/markdown' });
      expect(TERMINAL).not.toContain(md.body.processing_status);

      for (const id of [txt.id, md.body.id]) {
        const done = await s.processed(id);
        expect(done.body, done.text).toMatchObject({ id, processing_status: 'completed', error_message: null });
        expect(done.body.total_chunks).toBeGreaterThan(0);
        expect(done.body.chunks_embedded).toBe(done.body.total_chunks);
      }
      expect((await s.getFile(txt.id)).body.file_name).toBe('roches-été.txt');
      const withContent = await s.call('GET', `/v1/${resource}/${s.sourceId}/files/${md.body.id}?include_content=true`);
      expect(withContent.body.content).toContain('Step two: polish.');

      expect((await s.files()).map((f) => [f.id, f.file_name])).toEqual([[txt.id, 'roches-été.txt'], [md.body.id, 'guide.md']]);
      const passages = (await s.call('GET', `/v1/${resource}/${s.sourceId}/passages?order=asc&limit=100`)).body as any[];
      expect(new Set(passages.map((p) => p.file_id))).toEqual(new Set([txt.id, md.body.id]));
      const text = passages.map((p) => p.text).join('\n');
      for (const words of ['Granite is an igneous rock.', 'Basalt forms from lava.', 'Step one: read the obsidian notes.', 'Step two: polish.']) expect(text).toContain(words);
      expect(passages.every((p) => p.source_id === s.sourceId && p.embedding.length === 384)).toBe(true);
    });

    it('handles duplicate names: suffix numbers them, skip answers the existing file, error refuses, replace swaps in a new one', async () => {
      const s = await setup('dups');
      const sent: any[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await s.upload(s.file('test.txt', `version ${i}`));
        expect(res.status, res.text).toBe(200);
        sent.push(res.body);
      }
      expect(sent.map((f) => [f.file_name, f.original_file_name])).toEqual([
        ['dups/test.txt', 'test.txt'],
        ['dups/test_(1).txt', 'test.txt'],
        ['dups/test_(2).txt', 'test.txt'],
      ]);
      expect((await s.files()).map((f) => [f.file_name, f.original_file_name])).toEqual([
        ['test.txt', 'test.txt'],
        ['test_(1).txt', 'test.txt'],
        ['test_(2).txt', 'test.txt'],
      ]);

      // skip, in the seed's capitals: 200 with the file stored under that name, marked in a header; nothing stored.
      const skipped = await s.upload(s.file('test.txt', 'ignored'), 'duplicate_handling=SKIP');
      expect(skipped.status, skipped.text).toBe(200);
      expect(skipped.headers['x-upload-result']).toBe('skipped');
      expect(skipped.body).toMatchObject({ id: sent[0].id, file_name: 'dups/test.txt', original_file_name: 'test.txt' });
      // A new name is simply stored, without the header.
      const fresh = await s.upload(s.file('other.txt', 'other'), 'duplicate_handling=skip');
      expect(fresh.status).toBe(200);
      expect(fresh.headers['x-upload-result']).toBeUndefined();
      expect(fresh.body.file_name).toBe('dups/other.txt');

      // error: 400 (Letta 0.13+), nothing stored.
      const refused = await s.upload(s.file('test.txt', 'refused'), 'duplicate_handling=error');
      expect(refused.status, refused.text).toBe(400);
      expect(refused.body.detail).toMatch(/File 'test\.txt' already exists in source 'dups'/);
      expect(await s.files()).toHaveLength(4);

      // name: stored under the given name (a relative path is kept), which error mode then protects.
      const custom = await s.upload(s.file('whatever.txt', 'custom'), `name=${encodeURIComponent('notes/custom.txt')}`);
      expect(custom.body).toMatchObject({ file_name: 'dups/notes/custom.txt', original_file_name: 'notes/custom.txt' });
      const again = await s.upload(s.file('whatever.txt', 'custom'), `name=${encodeURIComponent('notes/custom.txt')}&duplicate_handling=error`);
      expect(again.status).toBe(400);
      expect(again.body.detail).toMatch(/already exists/);

      // replace: a new file (new id); once it has completed it is the only one of that name, with the new text.
      const first = await s.upload(s.file('swap.txt', 'old words about obsidian'));
      await s.processed(first.body.id);
      const replaced = await s.upload(s.file('swap.txt', 'new words about pumice'), 'duplicate_handling=replace');
      expect(replaced.status, replaced.text).toBe(200);
      expect(replaced.body.id).not.toBe(first.body.id);
      expect(replaced.body).toMatchObject({ file_name: 'dups/swap.txt', original_file_name: 'swap.txt' });
      expect((await s.processed(replaced.body.id)).body.processing_status).toBe('completed');
      const swaps = await until(s.files, (list) => list.filter((f) => f.original_file_name === 'swap.txt').length === 1);
      expect(swaps.filter((f) => f.original_file_name === 'swap.txt').map((f) => [f.id, f.file_name])).toEqual([[replaced.body.id, 'swap.txt']]);
      expect((await s.getFile(first.body.id)).status).toBe(404);
      const passages = (await s.call('GET', `/v1/${resource}/${s.sourceId}/passages?limit=100`)).body as any[];
      expect(passages.filter((p) => p.file_id === replaced.body.id).map((p) => p.text).join(' ')).toContain('pumice');
      expect(passages.some((p) => p.text.includes('obsidian'))).toBe(false);
    });

    it('infers the type from the name and bytes when the part declares none or application/octet-stream', async () => {
      const s = await setup();
      const cases: [FormPart, string][] = [
        [s.file('readme.md', '# Title\n\nBody text.', null), 'text/markdown'],
        [s.file('data.json', '{"rock": "granite"}', 'application/octet-stream'), 'application/json'],
        [s.file('script.py', 'def dig():\n    return "gravel"\n', 'application/octet-stream'), 'text/x-python'],
        [s.file('notes', 'Plain words without an extension.', null), 'text/plain'],
      ];
      for (const [part, type] of cases) {
        const res = await s.upload(part);
        expect(res.status, `${part.filename}: ${res.text}`).toBe(200);
        expect(res.body.file_type, part.filename).toBe(type);
      }
      const last = (await s.files()).at(-1)!;
      expect((await s.processed(last.id)).body.processing_status).toBe('completed');
    });

    it('serves the seed’s alias POST …/files the same way', async () => {
      const s = await setup();
      const res = await s.upload(s.file('alias.txt', 'through the alias'), 'duplicate_handling=suffix', { path: 'files' });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ file_name: 'kb/alias.txt', source_id: s.sourceId });
      expect((await s.processed(res.body.id)).body.processing_status).toBe('completed');
    });

    it('refuses a type Quarry cannot read with 415 and Letta’s message; nothing is stored', async () => {
      const s = await setup();
      const res = await s.upload(s.file('picture.png', PNG, 'image/png'));
      expect(res.status, res.text).toBe(415);
      expect(res.body.detail).toMatch(/^Unsupported file type: image\/png \(filename: picture\.png\)\. Supported types: .*PDF/);
      const undeclared = await s.upload(s.file('picture.png', PNG, 'application/octet-stream'));
      expect(undeclared.status).toBe(415);
      expect(undeclared.body.detail).toMatch(/^Unsupported file type: unknown \(filename: picture\.png\)/);
      expect(await s.files()).toEqual([]);
      expect(await t.db.prisma.job.count({ where: { sourceId: s.sourceId } })).toBe(0);
    });

    it('takes a file of exactly MAX_UPLOAD_BYTES and refuses one byte more with 413; the server goes on serving', async () => {
      const s = await setup();
      const exact = await s.upload(s.file('exact.txt', words(MAX)));
      expect(exact.status, exact.text).toBe(200);
      expect(exact.body.file_size).toBe(MAX);

      const over = await s.upload(s.file('over.txt', words(MAX + 1)));
      expect(over.status, over.text).toBe(413);
      expect(over.body.detail).toMatch(/larger than the 64 KiB upload limit \(MAX_UPLOAD_BYTES\)/);
      expect((await s.files()).map((f) => f.file_name)).toEqual(['exact.txt']);

      // A body declared larger than any upload may be is refused before it is read.
      const { body, contentType } = multipartBody([s.file('tiny.txt', 'tiny')]);
      const declared = await rawRequest(base, {
        method: 'POST',
        path: `/v1/${resource}/${s.sourceId}/upload`,
        headers: { authorization: `Bearer ${s.org.apiKey}`, 'content-type': contentType, 'content-length': String(MAX + MULTIPART_OVERHEAD + 1) },
        body,
      });
      expect(declared.status, declared.text).toBe(413);
      expect(declared.body.detail).toMatch(/request body is larger than an upload may be/);
      expect(declared.headers.connection).toBe('close');

      // Streamed without a Content-Length, the body is counted as it arrives: a large part before the file stops it.
      const boundary = 'quarry-stream-boundary';
      const junk = Buffer.alloc(256 * 1024, 0x78);
      const streamed = await chunked(base, `/v1/${resource}/${s.sourceId}/upload`, { authorization: `Bearer ${s.org.apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, [
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="padding"; filename="padding.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        ...Array.from({ length: Math.ceil((MAX + MULTIPART_OVERHEAD) / junk.length) + 2 }, () => junk),
        Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.txt"\r\n\r\nlate\r\n--${boundary}--\r\n`),
      ]);
      expect(streamed.status, streamed.text).toBe(413);
      expect(streamed.headers.connection).toBe('close');

      expect((await s.files()).map((f) => f.file_name)).toEqual(['exact.txt']);
      expect((await s.call('GET', `/v1/${resource}/${s.sourceId}`)).status).toBe(200);
    });

    it('answers 422 in Letta’s shape for a missing file part, and 400 for a body that is not well-formed multipart; nothing is stored', async () => {
      const s = await setup();
      const missing = { type: 'missing', loc: ['body', 'file'], msg: 'Field required' };
      // Only a text field; the file under another name; no body; a JSON body.
      expect(await s.upload([{ name: 'note', content: 'no file here' }])).toMatchObject({ status: 422, body: { detail: [missing] } });
      expect(await s.upload([{ name: 'upload', filename: 'a.txt', type: 'text/plain', content: 'misnamed' }])).toMatchObject({ status: 422, body: { detail: [missing] } });
      const headers = { authorization: `Bearer ${s.org.apiKey}` };
      const path = `/v1/${resource}/${s.sourceId}/upload`;
      expect(await rawRequest(base, { method: 'POST', path, headers })).toMatchObject({ status: 422, body: { detail: [missing] } });
      expect(await rawRequest(base, { method: 'POST', path, headers: { ...headers, 'content-type': 'application/json' }, body: '{"file": "a.txt"}' })).toMatchObject({
        status: 422,
        body: { detail: [missing] },
      });
      // `file` sent as a text field (no filename), as FastAPI reports it.
      const asText = await s.upload([{ name: 'file', content: 'just text' }]);
      expect(asText.status).toBe(422);
      expect(asText.body.detail[0]).toMatchObject({ type: 'value_error', loc: ['body', 'file'] });
      expect(asText.body.detail[0].msg).toMatch(/^Expected UploadFile/);

      // multipart without its boundary, and a body cut off inside the file part.
      const noBoundary = await rawRequest(base, { method: 'POST', path, headers: { ...headers, 'content-type': 'multipart/form-data' }, body: 'x' });
      expect(noBoundary.status, noBoundary.text).toBe(400);
      expect(noBoundary.body.detail).toMatch(/multipart body cannot be read/);
      const { body, contentType } = multipartBody([s.file('cut.txt', 'the start of a file that never ends '.repeat(50))]);
      const cut = await rawRequest(base, { method: 'POST', path, headers: { ...headers, 'content-type': contentType }, body: body.subarray(0, body.length - 200) });
      expect(cut.status, cut.text).toBe(400);
      expect(cut.body.detail).toMatch(/Unexpected end/);

      expect(await s.files()).toEqual([]);
      expect(await t.db.prisma.job.count({ where: { sourceId: s.sourceId } })).toBe(0);
    });

    it('answers 422 for malformed ids and query values before reading the body', async () => {
      const s = await setup();
      const bad = await s.upload(s.file('a.txt', 'a'), '', { id: 'not-an-id' });
      expect(bad.status).toBe(422);
      expect(bad.body.detail[0]).toMatchObject({ type: 'string_pattern_mismatch', loc: ['path', idName] });
      expect(bad.body.examples).toEqual([exampleId('source')]);
      expect((await s.upload(s.file('a.txt', 'a'), '', { id: exampleId('file') })).body.detail[0].loc).toEqual(['path', idName]);
      const mode = await s.upload(s.file('a.txt', 'a'), 'duplicate_handling=sideways');
      expect(mode.status).toBe(422);
      expect(mode.body.detail[0]).toMatchObject({ type: 'enum', loc: ['query', 'duplicate_handling'], msg: "Input should be 'skip', 'error', 'suffix' or 'replace'" });
      expect((await s.upload(s.file('a.txt', 'a'), 'name=')).body.detail[0].loc).toEqual(['query', 'name']);
      // A name the domain refuses is Letta's 400.
      const escape = await s.upload(s.file('a.txt', 'a'), `name=${encodeURIComponent('../etc/passwd')}`);
      expect(escape.status).toBe(400);
      expect(escape.body.detail).toMatch(/relative path/);
      expect(await s.files()).toEqual([]);
    });

    it('answers 404 for a source missing from the caller’s organization, and 401 without a valid key; nothing is stored', async () => {
      const s = await setup();
      const stranger = await t.seed();
      const theirs = await s.upload(s.file('intrude.txt', 'not yours'), '', { key: stranger.apiKey });
      expect(theirs.status, theirs.text).toBe(404);
      expect(typeof theirs.body.detail).toBe('string');
      expect(theirs.text).not.toContain(s.name + '/');
      const unknown = await s.upload(s.file('a.txt', 'a'), '', { id: exampleId('source') });
      expect(unknown.status).toBe(404);
      for (const key of [null, 'qk_not-a-real-key']) {
        const res = await s.upload(s.file('anon.txt', 'anonymous'), '', { key });
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(res.body.detail).toMatch(/API key/);
      }
      expect(await s.files()).toEqual([]);
      expect(await t.db.prisma.file.count({ where: { organizationId: stranger.organizationId } })).toBe(0);
    });
  });
});
