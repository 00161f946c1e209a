import { request as httpRequest } from 'node:http';
import { attachSource, attachTool, createAgent } from '../../src/domain/agents.js';
import { appendBatchMessages, createBatchRun } from '../../src/domain/batches.js';
import { createJob } from '../../src/domain/jobs.js';
import { recordRunStep, startRun } from '../../src/domain/runs.js';
import { createSource } from '../../src/domain/sources.js';
import { createTool } from '../../src/domain/tools.js';
import { EmbeddingCatalog } from '../../src/embeddings/config.js';
import type { File, Passage } from '../../src/generated/prisma/client.js';
import { testConfig, type Tenant, type TestApp } from './app.js';
import { setFileText } from './db.js';

/** HTTP helpers and a populated organization for the REST shim's tests. */

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The parsed JSON body, or undefined when there is none (or it is not JSON). */
  body: any;
}

/**
 * One HTTP request with node:http, so anything can be sent: a body on GET, a Content-Length that lies, bytes
 * that are not JSON.
 */
export function rawRequest(
  base: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<HttpResult> {
  const url = new URL(options.path, base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      url,
      // A connection of its own, so a connection the server closes (after a 413) is never reused.
      { method: options.method, agent: false, headers: { ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers } },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    // The server may answer (413) and close before the whole body is sent: only errors before an answer count.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** JSON requests authenticated with a key (or none). */
export function jsonClient(base: string, key: string | null) {
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    rawRequest(base, {
      method,
      path,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
}

export const PYTHON_TOOL = `def roll_dice(sides: int, times: int = 1) -> str:
    """Roll a die and report the total.

    Args:
        sides: How many faces the die has.
        times: How many times to roll it.

    Returns:
        str: The total rolled.
    """
    import random
    return str(sum(random.randint(1, sides) for _ in range(times)))
`;

/** A unit vector of the lexical embedder's dimension, pointing along `axis`. */
export function unitVector(axis: number, dim = 384): string {
  return JSON.stringify(Array.from({ length: dim }, (_, i) => (i === axis ? 1 : 0)));
}

/**
 * A file as the ingestion pipeline leaves it once processed: the row, its text and its passages (with vectors).
 * Uploads are the pipeline's to test; the shim's tests only need processed files to list.
 */
export async function processedFile(
  tenant: Tenant,
  source: { id: string; name: string },
  name: string,
  text: string,
  options: { mediaType?: string; chunks?: string[]; status?: File['processingStatus'] } = {},
): Promise<{ file: File; passages: Passage[] }> {
  const chunks = options.chunks ?? text.split(/\n{2,}/).filter(Boolean);
  const status = options.status ?? 'COMPLETED';
  const done = status === 'COMPLETED';
  const file = await tenant.db.file.create({
    data: {
      organizationId: tenant.organizationId,
      sourceId: source.id,
      fileName: `${source.name}/${name}`,
      originalFileName: name,
      mediaType: options.mediaType ?? 'text/plain',
      sizeBytes: Buffer.byteLength(text),
      processingStatus: status,
      totalChunks: done ? chunks.length : null,
      chunksEmbedded: done ? chunks.length : null,
      createdById: tenant.userId,
    },
  });
  await setFileText(tenant.db, tenant.organizationId, file.id, text);
  if (!done) return { file, passages: [] };
  const config = new EmbeddingCatalog(testConfig).fromHandle('local/lexical-384');
  for (const [i, chunk] of chunks.entries()) {
    await tenant.db.$executeRaw`
      INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, metadata, tags, "embeddingConfig", "embeddingDim", embedding, "createdById", "updatedAt")
      VALUES (${tenant.organizationId}, ${source.id}, ${file.id}, ${file.fileName}, ${i}, ${chunk}, '{}'::jsonb, '{}'::text[], ${JSON.stringify(config)}::jsonb, 384,
              ${unitVector(i)}::vector, ${tenant.userId}, now())`;
  }
  const passages = await tenant.db.passage.findMany({ where: { fileId: file.id }, orderBy: { chunkIndex: 'asc' } });
  return { file, passages };
}

export interface World {
  tenant: Tenant;
  key: string;
  source: { id: string; name: string };
  /** A second source, not attached to the agent. */
  other: { id: string; name: string };
  files: File[];
  passages: Passage[];
  agentId: string;
  toolId: string;
  jobId: string;
  runId: string;
  stepId: string;
  batchId: string;
  messageIds: string[];
  fileAgentId: string;
  /** Every id above: none may appear in another organization's answers. */
  ids: string[];
}

/** An organization with one of everything the shim serves, made through the domain layer (files as processed). */
export async function buildWorld(t: TestApp): Promise<World> {
  const tenant = await t.tenant();
  const catalog = new EmbeddingCatalog(testConfig);
  const source = await createSource(tenant.db, tenant.actor, { name: 'kb', description: 'knowledge' }, { embeddings: catalog });
  const other = await createSource(tenant.db, tenant.actor, { name: 'spare' }, { embeddings: catalog });
  const one = await processedFile(tenant, source, 'notes.txt', 'First paragraph.\n\nSecond paragraph.');
  const two = await processedFile(tenant, source, 'guide.md', '# Guide\n\nRead me.', { mediaType: 'text/x-markdown' });
  const tool = await createTool(tenant.db, tenant.actor, { sourceCode: PYTHON_TOOL });
  const agent = await createAgent(tenant.db, tenant.actor, { name: 'helper', memoryBlocks: [{ label: 'human', value: 'Name: {{user_name}}' }] });
  await attachSource(tenant.db, tenant.actor, agent.id, source.id);
  await attachTool(tenant.db, tenant.actor, agent.id, tool.id);
  const job = await createJob(tenant.db, tenant.actor, { task: 'file_processing', sourceId: source.id, fileId: one.file.id }, t);
  const run = await startRun(tenant.db, tenant.actor, { agentId: agent.id }, t);
  const step = await recordRunStep(tenant.db, tenant.actor, run.id, { model: 'openai/gpt-4o-mini', promptTokens: 100, completionTokens: 20, cachedTokens: 5 }, t);
  const batch = await createBatchRun(tenant.db, tenant.actor, { requests: [{ agentId: agent.id }] });
  const messages = await appendBatchMessages(tenant.db, tenant.actor, batch.id, [
    { agentId: agent.id, role: 'user', content: 'hello' },
    { agentId: agent.id, role: 'assistant', content: 'hi there' },
  ]);
  const fileAgent = await tenant.db.fileAgent.findFirstOrThrow({ where: { agentId: agent.id } });
  const files = [one.file, two.file];
  const passages = [...one.passages, ...two.passages];
  return {
    tenant,
    key: tenant.apiKey,
    source: { id: source.id, name: source.name },
    other: { id: other.id, name: other.name },
    files,
    passages,
    agentId: agent.id,
    toolId: tool.id,
    jobId: job.id,
    runId: run.id,
    stepId: step.id,
    batchId: batch.id,
    messageIds: messages.map((m) => m.id),
    fileAgentId: fileAgent.id,
    ids: [source.id, other.id, ...files.map((f) => f.id), ...passages.map((p) => p.id), agent.id, tool.id, job.id, run.id, step.id, batch.id, ...messages.map((m) => m.id), fileAgent.id],
  };
}

export interface FormPart {
  name: string;
  /** Omitted: a text field. */
  filename?: string;
  /** The part's Content-Type; omitted or null: the part declares none. */
  type?: string | null;
  content: string | Uint8Array;
}

/**
 * A multipart/form-data body written byte by byte, so a test controls every part header (no Content-Type, a
 * missing filename…), as `curl -F` and the SDKs send them.
 */
export function multipartBody(parts: FormPart[], boundary = `----quarry-test-${Math.random().toString(16).slice(2)}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const headers = [`Content-Disposition: ${disposition}`, ...(part.type ? [`Content-Type: ${part.type}`] : [])];
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`, 'utf8'), Buffer.from(part.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
