import type { Actor } from '../core/auth.js';
import { badInput, conflict, notFound } from '../core/errors.js';
import { checkName } from './names.js';
import { newId } from '../core/ids.js';
import type { Job, Message, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { requireId } from './ids.js';
import { isTerminal, prepareJob } from './jobs.js';

/**
 * Batch runs (Letta's batch jobs): a Job of type BATCH with one item per agent request, and the messages an
 * agent runtime reports for them. `db` is tenant-scoped throughout.
 */

export const MESSAGE_ROLES = ['assistant', 'user', 'tool', 'function', 'system', 'approval', 'summary'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

const MAX_REQUESTS = 1000;
const MAX_MESSAGES = 1000;

export interface BatchRequestInput {
  agentId: string;
  /** The request as the runtime will send it (Letta's LettaBatchRequest: messages, …), kept on the item. */
  request?: Record<string, unknown> | null;
}

export interface BatchRunInput {
  requests: BatchRequestInput[];
  callbackUrl?: string | null;
  metadata?: Record<string, unknown> | null;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export async function getBatchRun(db: PrismaClient, id: string, field = 'id'): Promise<Job> {
  requireId('job', id, field);
  const batch = await db.job.findFirst({ where: { id, jobType: 'BATCH' } });
  if (!batch) throw notFound('BatchRun', id);
  return batch;
}

/**
 * Records a batch a runtime has started: a RUNNING batch job (metadata `job_type: batch_messages`, as Letta
 * writes it) with one item per request, in one transaction. Each agent appears at most once, so an agent id
 * names its item.
 */
export async function createBatchRun(db: PrismaClient, actor: Actor, input: BatchRunInput): Promise<Job> {
  const { requests } = input;
  if (requests.length === 0) throw badInput('A batch needs at least one request', 'requests');
  if (requests.length > MAX_REQUESTS) throw badInput(`At most ${MAX_REQUESTS} requests per batch`, 'requests');
  const seen = new Set<string>();
  for (const [i, r] of requests.entries()) {
    requireId('agent', r.agentId, `requests.${i}.agentId`);
    if (seen.has(r.agentId)) throw badInput(`Agent ${r.agentId} appears twice; a batch has one request per agent`, `requests.${i}.agentId`);
    seen.add(r.agentId);
    if (r.request != null && !isObject(r.request)) throw badInput('request must be a JSON object', `requests.${i}.request`);
  }
  const found = new Set((await db.agent.findMany({ where: { id: { in: [...seen] } }, select: { id: true } })).map((a) => a.id));
  const missing = requests.find((r) => !found.has(r.agentId));
  if (missing) throw notFound('Agent', missing.agentId);
  if (input.metadata != null && !isObject(input.metadata)) throw badInput('metadata must be a JSON object', 'metadata');

  const job = await prepareJob(db, actor, {
    jobType: 'BATCH',
    status: 'RUNNING',
    callbackUrl: input.callbackUrl,
    metadata: { job_type: 'batch_messages', ...input.metadata },
  });
  // The id is made here so the job and its items go in one batch transaction (no interactive transaction).
  const id = newId('job');
  const now = Date.now();
  const [batch] = await db.$transaction([
    db.job.create({ data: { ...job, id } }),
    db.batchItem.createMany({
      data: requests.map((r, i) => ({
        organizationId: actor.organizationId,
        batchJobId: id,
        agentId: r.agentId,
        request: (r.request ?? undefined) as Prisma.InputJsonValue | undefined,
        // Rows of one statement would share now(); distinct times keep the request order.
        createdAt: new Date(now + i),
      })),
    }),
  ]);
  return batch;
}

export interface MessageInput {
  role: string;
  /** Content parts `[{ type: "text", text }, { type: "tool_call", … }, …]`; a string is one text part. */
  content: unknown;
  /** The agent, or the batch item, the message belongs to (at least one; they must agree). */
  agentId?: string | null;
  batchItemId?: string | null;
  model?: string | null;
  name?: string | null;
  /** OpenAI-style `[{ id, type: "function", function: { name, arguments } }]`. */
  toolCalls?: unknown;
  toolCallId?: string | null;
  /** `[{ status, stdout, stderr, … }]`. */
  toolReturns?: unknown;
  stepId?: string | null;
  otid?: string | null;
  groupId?: string | null;
  senderId?: string | null;
  isErr?: boolean | null;
}

function checkContent(content: unknown, field: string): Prisma.InputJsonArray {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw badInput(`${field} must be a list of content parts`, field);
  for (const [i, part] of content.entries()) {
    if (!isObject(part) || typeof part.type !== 'string' || !part.type) {
      throw badInput(`${field}.${i} must be an object with a "type" (text, image, tool_call, tool_return, reasoning…)`, `${field}.${i}`);
    }
    if (part.type === 'text' && typeof part.text !== 'string') throw badInput(`${field}.${i}: a text part needs a string "text"`, `${field}.${i}.text`);
  }
  return content as Prisma.InputJsonArray;
}

function checkObjectList(value: unknown, field: string): Prisma.InputJsonArray | undefined {
  if (value == null) return undefined;
  if (!Array.isArray(value) || !value.every(isObject)) throw badInput(`${field} must be a list of JSON objects`, field);
  return value as Prisma.InputJsonArray;
}

/**
 * Appends messages reported by a runtime to an active batch, in the given order. Each names its item by
 * batchItemId or agentId (or both, consistently); the other is filled in. Messages get strictly increasing
 * creation times (1 ms apart, after the batch's latest message), so chronological order is the order reported.
 */
export async function appendBatchMessages(db: PrismaClient, actor: Actor, batchId: string, messages: MessageInput[]): Promise<Message[]> {
  const batch = await getBatchRun(db, batchId, 'batchRunId');
  if (isTerminal(batch.status)) throw conflict(`BatchRun ${batchId} already ended ${batch.status.toLowerCase()}; it takes no more messages`, 'batchRunId');
  if (messages.length > MAX_MESSAGES) throw badInput(`At most ${MAX_MESSAGES} messages per call`, 'messages');
  if (messages.length === 0) return [];

  const items = await db.batchItem.findMany({ where: { batchJobId: batchId }, select: { id: true, agentId: true } });
  const byId = new Map(items.map((it) => [it.id, it]));
  const byAgent = new Map(items.map((it) => [it.agentId, it]));
  const rows = messages.map((m, i) => {
    const field = `messages.${i}`;
    if (!(MESSAGE_ROLES as readonly string[]).includes(m.role)) {
      throw badInput(`${field}.role must be one of ${MESSAGE_ROLES.join(', ')}, not "${m.role}"`, `${field}.role`);
    }
    if (m.batchItemId == null && m.agentId == null) throw badInput(`${field} needs an agentId or a batchItemId`, field);
    if (m.batchItemId != null) requireId('batch_item', m.batchItemId, `${field}.batchItemId`);
    if (m.agentId != null) requireId('agent', m.agentId, `${field}.agentId`);
    const item = m.batchItemId != null ? byId.get(m.batchItemId) : byAgent.get(m.agentId!);
    if (!item && m.batchItemId != null) throw badInput(`${m.batchItemId} is not an item of batch ${batchId}`, `${field}.batchItemId`);
    if (!item) throw badInput(`${m.agentId} is not an agent of batch ${batchId}`, `${field}.agentId`);
    if (m.agentId != null && item.agentId !== m.agentId) throw badInput(`Item ${item.id} is not agent ${m.agentId}'s`, `${field}.agentId`);
    return {
      organizationId: actor.organizationId,
      batchJobId: batchId,
      batchItemId: item.id,
      agentId: item.agentId,
      role: m.role,
      content: checkContent(m.content, `${field}.content`),
      model: m.model ?? null,
      name: m.name != null ? checkName(m.name, { field: `${field}.name`, maxLength: 256 }) : null,
      toolCalls: checkObjectList(m.toolCalls, `${field}.toolCalls`),
      toolCallId: m.toolCallId ?? null,
      toolReturns: checkObjectList(m.toolReturns, `${field}.toolReturns`),
      stepId: m.stepId ?? null,
      otid: m.otid ?? null,
      groupId: m.groupId ?? null,
      senderId: m.senderId ?? null,
      isErr: m.isErr ?? null,
      createdById: actor.userId,
    };
  });

  // Rows of one statement would share now(); explicit times keep the reported order, also across calls.
  const latest = await db.message.findFirst({ where: { batchJobId: batchId }, orderBy: [{ createdAt: 'desc' }], select: { createdAt: true } });
  const start = Math.max(Date.now(), (latest?.createdAt.getTime() ?? 0) + 1);
  const created = await db.message.createManyAndReturn({ data: rows.map((row, i) => ({ ...row, createdAt: new Date(start + i) })) });
  return created.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

export interface MessageListOptions {
  /** Message ids; relative to `order`: `after` is further down the list, `before` further up. */
  after?: string | null;
  before?: string | null;
  limit?: number | null;
  order?: 'asc' | 'desc';
  agentId?: string | null;
}

/**
 * A batch's messages with Letta's id cursors (for the REST dialect; GraphQL uses Relay connections): oldest first
 * by default, `limit` 100 (1 to 1000). A cursor that is not a message of the batch is NOT_FOUND.
 */
export async function listBatchMessages(db: PrismaClient, batchId: string, options: MessageListOptions = {}): Promise<Message[]> {
  await getBatchRun(db, batchId, 'batchId');
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput('limit must be from 1 to 1000', 'limit');
  const order = options.order ?? 'asc';
  const and: Prisma.MessageWhereInput[] = [{ batchJobId: batchId }];
  if (options.agentId != null) and.push({ agentId: requireId('agent', options.agentId, 'agentId') });
  // `after` continues the listing and `before` precedes it, whichever the direction.
  for (const [field, further] of [['after', true], ['before', false]] as const) {
    const cursor = options[field];
    if (cursor == null) continue;
    requireId('message', cursor, field);
    const ref = await db.message.findFirst({ where: { id: cursor, batchJobId: batchId }, select: { id: true, createdAt: true } });
    if (!ref) throw notFound('Message', cursor);
    const op = further === (order === 'asc') ? 'gt' : 'lt';
    and.push({ OR: [{ createdAt: { [op]: ref.createdAt } }, { createdAt: ref.createdAt, id: { [op]: ref.id } }] });
  }
  return db.message.findMany({ where: { AND: and }, orderBy: [{ createdAt: order }, { id: order }], take: limit });
}
