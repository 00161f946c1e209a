import type { Actor } from '../core/auth.js';
import { badInput, notFound } from '../core/errors.js';
import { checkName } from './names.js';
import { newId, type IdPrefix } from '../core/ids.js';
import type { Agent, Prisma, PrismaClient, Source } from '../generated/prisma/client.js';
import { incomingFileSelect, placedFileSelect, placementWrites, planPlacement, type AgentFileLimits } from './agent-files.js';
import { BASE_TOOL_NAMES, ensureBaseTools, FILE_TOOL_NAMES, FILE_TOOL_TYPE } from './base-tools.js';
import { orNotFound, requireId } from './ids.js';
import { llmConfigFromHandle } from './llm-config.js';

/** Agents and what is attached to them: sources (with their files in working memory) and tools. `db` is tenant-scoped throughout. */

export interface MemoryBlockInput {
  label: string;
  value: string;
  limit?: number | null;
  description?: string | null;
}

/** As stored in Agent.memoryBlocks. */
export type MemoryBlock = {
  label: string;
  value: string;
  limit: number;
  description: string | null;
};

export interface AgentFields {
  name: string;
  description?: string | null;
  system?: string | null;
  /** Model handle such as `openai/gpt-4o-mini`. */
  model?: string | null;
  /** Letta's LLMConfig; its context window, when given, sets the file limits' defaults. */
  llmConfig?: Record<string, unknown> | null;
  embeddingConfig?: Record<string, unknown> | null;
  memoryBlocks?: MemoryBlockInput[] | null;
  tags?: string[] | null;
  metadata?: Record<string, unknown> | null;
  maxFilesOpen?: number | null;
  perFileViewWindowCharLimit?: number | null;
}

export interface CreateAgentInput extends AgentFields {
  sourceIds?: string[] | null;
  toolIds?: string[] | null;
  /** Also attach Letta's default tools (BASE_TOOL_NAMES). */
  includeBaseTools?: boolean | null;
}

/** Changes to an agent. `sourceIds` and `toolIds`, when given, are the agent's whole sets of sources and tools. */
export interface AgentPatch extends Partial<AgentFields> {
  sourceIds?: string[] | null;
  toolIds?: string[] | null;
}

const NAME_MAX = 200;
export const DEFAULT_BLOCK_LIMIT = 5000;
const INT_MAX = 2 ** 31 - 1;

/** Letta's file limits for a model's context window (reference §7.2). */
export function defaultFileLimits(contextWindow?: number | null): { maxFilesOpen: number; perFileViewWindowCharLimit: number } {
  if (!contextWindow) return { maxFilesOpen: 5, perFileViewWindowCharLimit: 50_000 };
  if (contextWindow <= 8_000) return { maxFilesOpen: 3, perFileViewWindowCharLimit: 5_000 };
  if (contextWindow <= 32_000) return { maxFilesOpen: 5, perFileViewWindowCharLimit: 15_000 };
  if (contextWindow <= 128_000) return { maxFilesOpen: 10, perFileViewWindowCharLimit: 25_000 };
  if (contextWindow <= 200_000) return { maxFilesOpen: 10, perFileViewWindowCharLimit: 40_000 };
  return { maxFilesOpen: 15, perFileViewWindowCharLimit: 40_000 };
}

/** Quarry stores configs camelCased; Letta clients send snake_case. */
function contextWindowOf(llmConfig: Record<string, unknown> | null | undefined): number | null {
  const value = llmConfig?.contextWindow ?? llmConfig?.context_window;
  return typeof value === 'number' && value > 0 ? value : null;
}

// ───────────────────────────── validation ─────────────────────────────

const checkAgentName = (name: string) => checkName(name, { maxLength: NAME_MAX });

function checkObject(value: unknown, field: string): Prisma.InputJsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput(`${field} must be a JSON object`, field);
  return value as Prisma.InputJsonObject;
}

function checkCount(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > INT_MAX) throw badInput(`${field} must be a positive integer`, field);
  return value;
}

function checkMemoryBlocks(blocks: MemoryBlockInput[]): MemoryBlock[] {
  const labels = new Set<string>();
  return blocks.map((block, i) => {
    const field = `memoryBlocks.${i}`;
    const label = block.label.trim();
    if (!label) throw badInput('A memory block label must not be empty', `${field}.label`);
    if (labels.has(label)) throw badInput(`Memory block label "${label}" appears twice`, `${field}.label`);
    labels.add(label);
    const limit = checkCount(block.limit ?? DEFAULT_BLOCK_LIMIT, `${field}.limit`);
    if (block.value.length > limit) {
      throw badInput(`Memory block "${label}" has ${block.value.length} characters, more than its limit of ${limit}`, `${field}.value`);
    }
    return { label, value: block.value, limit, description: block.description ?? null };
  });
}

function checkIds(prefix: IdPrefix, ids: string[], field: string): string[] {
  for (const id of ids) requireId(prefix, id, field);
  return [...new Set(ids)];
}

interface AgentColumns {
  name?: string;
  description?: string;
  system?: string;
  model?: string;
  llmConfig?: Prisma.InputJsonObject;
  embeddingConfig?: Prisma.InputJsonObject;
  memoryBlocks?: MemoryBlock[];
  tags?: string[];
  metadata?: Prisma.InputJsonObject;
  maxFilesOpen?: number;
  perFileViewWindowCharLimit?: number;
}

/** The columns set by the fields present and non-null in `input` (Letta's rule: null does not clear a field). */
function agentColumns(input: AgentPatch): AgentColumns {
  const columns: AgentColumns = {};
  if (input.name != null) columns.name = checkAgentName(input.name);
  if (input.description != null) columns.description = input.description;
  if (input.system != null) columns.system = input.system;
  if (input.model != null) columns.model = input.model;
  if (input.llmConfig != null) columns.llmConfig = checkObject(input.llmConfig, 'llmConfig');
  if (input.embeddingConfig != null) columns.embeddingConfig = checkObject(input.embeddingConfig, 'embeddingConfig');
  if (input.memoryBlocks != null) columns.memoryBlocks = checkMemoryBlocks(input.memoryBlocks);
  if (input.tags != null) columns.tags = [...new Set(input.tags)];
  if (input.metadata != null) columns.metadata = checkObject(input.metadata, 'metadata');
  if (input.maxFilesOpen != null) columns.maxFilesOpen = checkCount(input.maxFilesOpen, 'maxFilesOpen');
  if (input.perFileViewWindowCharLimit != null) {
    columns.perFileViewWindowCharLimit = checkCount(input.perFileViewWindowCharLimit, 'perFileViewWindowCharLimit');
  }
  return columns;
}

async function requireAll(db: PrismaClient, model: 'source' | 'tool', ids: string[]): Promise<void> {
  if (!ids.length) return;
  const where = { id: { in: ids } };
  const found = model === 'source' ? await db.source.findMany({ where, select: { id: true } }) : await db.tool.findMany({ where, select: { id: true } });
  const missing = ids.find((id) => !found.some((row) => row.id === id));
  if (missing) throw notFound(model === 'source' ? 'Source' : 'Tool', missing);
}

// ───────────────────────────── agents ─────────────────────────────

export async function getAgent(db: PrismaClient, actor: Actor, id: string, field = 'id'): Promise<Agent> {
  requireId('agent', id, field);
  return orNotFound(db.agent.findUnique({ where: { id } }), 'Agent', id);
}

/**
 * Creates an agent with its tools and sources, all in one transaction; the sources' files enter its working
 * memory as attachSource would put them. Everything is checked before anything is written.
 */
export async function createAgent(db: PrismaClient, actor: Actor, input: CreateAgentInput): Promise<Agent> {
  const llmConfig = input.llmConfig ?? (input.model ? llmConfigFromHandle(input.model) : null);
  const columns = { ...agentColumns({ ...input, llmConfig }), name: checkAgentName(input.name) };
  const sourceIds = checkIds('source', input.sourceIds ?? [], 'sourceIds');
  const toolIds = checkIds('tool', input.toolIds ?? [], 'toolIds');
  await requireAll(db, 'source', sourceIds);
  await requireAll(db, 'tool', toolIds);

  const defaults = defaultFileLimits(contextWindowOf(llmConfig));
  const agent = { ...defaults, ...columns, id: newId('agent') };
  const builtInIds = input.includeBaseTools ? (await ensureBaseTools(db, actor, BASE_TOOL_NAMES)).map((tool) => tool.id) : [];
  const link = { organizationId: actor.organizationId, agentId: agent.id };
  const attachments = await sourceChangeWrites(db, actor, agent, { attach: sourceIds });
  const [created] = await db.$transaction([
    db.agent.create({
      data: { ...agent, organizationId: actor.organizationId, createdById: actor.userId, lastUpdatedById: actor.userId },
    }),
    db.toolAgent.createMany({ data: [...new Set([...toolIds, ...builtInIds])].map((toolId) => ({ ...link, toolId })) }),
    ...attachments,
  ]);
  return created;
}

/**
 * Changes the fields present and non-null in `patch`, in one transaction. A new `model` handle without an
 * `llmConfig` brings the handle's configuration. `sourceIds` and `toolIds` replace the agent's sources and tools:
 * sources leaving take their files out of its working memory, sources arriving bring theirs as attachSource does
 * (and the file tools, unless `toolIds` says otherwise for an agent left without sources). Lowering maxFilesOpen
 * closes the least recently accessed files beyond it; a new perFileViewWindowCharLimit applies to views rendered
 * from then on.
 */
export async function updateAgent(db: PrismaClient, actor: Actor, id: string, patch: AgentPatch): Promise<Agent> {
  const llmConfig = patch.llmConfig ?? (patch.model != null ? llmConfigFromHandle(patch.model) : undefined);
  const columns = agentColumns({ ...patch, llmConfig });
  const sourceIds = patch.sourceIds == null ? null : checkIds('source', patch.sourceIds, 'sourceIds');
  const toolIds = patch.toolIds == null ? null : checkIds('tool', patch.toolIds, 'toolIds');
  const agent = await getAgent(db, actor, id);
  await requireAll(db, 'source', sourceIds ?? []);
  await requireAll(db, 'tool', toolIds ?? []);
  if (Object.keys(columns).length === 0 && sourceIds === null && toolIds === null) return agent;

  const limits = { ...agent, ...columns };
  const current = sourceIds ? (await db.sourceAgent.findMany({ where: { agentId: id }, select: { sourceId: true } })).map((link) => link.sourceId) : [];
  const change = {
    attach: sourceIds?.filter((sourceId) => !current.includes(sourceId)) ?? [],
    detach: current.filter((sourceId) => !sourceIds?.includes(sourceId)),
    replan: limits.maxFilesOpen < agent.maxFilesOpen,
  };
  const link = { organizationId: actor.organizationId, agentId: id };
  const toolWrites = toolIds
    ? [
        db.toolAgent.deleteMany({ where: { agentId: id, toolId: { notIn: toolIds } } }),
        db.toolAgent.createMany({ data: toolIds.map((toolId) => ({ ...link, toolId })), skipDuplicates: true }),
      ]
    : [];
  const attachments = await sourceChangeWrites(db, actor, limits, change);
  const [updated] = await db.$transaction([
    db.agent.update({ where: { id }, data: { ...columns, lastUpdatedById: actor.userId } }),
    ...toolWrites,
    ...attachments,
  ]);
  return updated;
}

/** Deletes the agent; its links and working memory go with it (foreign keys cascade). Sources and tools stay. */
export async function deleteAgent(db: PrismaClient, actor: Actor, id: string): Promise<Agent> {
  const agent = await getAgent(db, actor, id);
  await db.agent.delete({ where: { id } });
  return agent;
}

// ───────────────────────────── sources ─────────────────────────────

async function requireSource(db: PrismaClient, sourceId: string): Promise<void> {
  if (!(await db.source.count({ where: { id: sourceId } }))) throw notFound('Source', sourceId);
}

interface SourceChange {
  attach?: string[];
  detach?: string[];
  /** Re-plan the working memory even when no source arrives (maxFilesOpen went down). */
  replan?: boolean;
}

/**
 * The writes that attach and detach an agent's sources, to run in one transaction after any write to the agent
 * itself, in this order: sources leaving take their files out of the agent's working memory; sources arriving are
 * linked, bring the file tools, and put the files the agent does not have yet into its working memory, the newest
 * open within its open-file limit (planPlacement); an agent left without sources loses the file tools. Apart from
 * making sure the organization has the file tools (idempotent), nothing is written here: a caller's later check
 * that fails leaves the agent as it was.
 */
async function sourceChangeWrites(db: PrismaClient, actor: Actor, agent: AgentFileLimits, change: SourceChange): Promise<Prisma.PrismaPromise<unknown>[]> {
  const { attach = [], detach = [] } = change;
  const agentId = agent.id;
  const link = { organizationId: actor.organizationId, agentId };
  const writes: Prisma.PrismaPromise<unknown>[] = [];
  if (detach.length) {
    writes.push(
      db.sourceAgent.deleteMany({ where: { agentId, sourceId: { in: detach } } }),
      db.fileAgent.deleteMany({ where: { agentId, sourceId: { in: detach } } }),
    );
  }
  if (attach.length) {
    const fileTools = await ensureBaseTools(db, actor, FILE_TOOL_NAMES);
    writes.push(
      db.sourceAgent.createMany({ data: attach.map((sourceId) => ({ ...link, sourceId })), skipDuplicates: true }),
      db.toolAgent.createMany({ data: fileTools.map((tool) => ({ ...link, toolId: tool.id })), skipDuplicates: true }),
    );
  }
  if (attach.length || change.replan) {
    const [existing, files] = await Promise.all([
      db.fileAgent.findMany({ where: { agentId, sourceId: { notIn: detach } }, select: placedFileSelect }),
      attach.length ? db.file.findMany({ where: { sourceId: { in: attach }, fileAgents: { none: { agentId } } }, select: incomingFileSelect }) : [],
    ]);
    writes.push(...placementWrites(db, planPlacement(actor, agent, existing, files)));
  }
  if (detach.length) {
    writes.push(db.toolAgent.deleteMany({ where: { agentId, tool: { toolType: FILE_TOOL_TYPE }, agent: { sources: { none: {} } } } }));
  }
  return writes;
}

/**
 * Attaches a source (idempotent): links it, gives the agent the file tools, and puts the source's files it does
 * not have yet into its working memory, the newest open within the agent's open-file limit.
 */
export async function attachSource(db: PrismaClient, actor: Actor, agentId: string, sourceId: string): Promise<Agent> {
  requireId('source', sourceId, 'sourceId');
  const agent = await getAgent(db, actor, agentId, 'agentId');
  await requireSource(db, sourceId);
  await db.$transaction(await sourceChangeWrites(db, actor, agent, { attach: [sourceId] }));
  return agent;
}

/**
 * Detaches a source (idempotent): removes the link and the agent's working memory of the source's files, and,
 * when it was the agent's last source, the file tools.
 */
export async function detachSource(db: PrismaClient, actor: Actor, agentId: string, sourceId: string): Promise<Agent> {
  requireId('source', sourceId, 'sourceId');
  const agent = await getAgent(db, actor, agentId, 'agentId');
  await requireSource(db, sourceId);
  await db.$transaction(await sourceChangeWrites(db, actor, agent, { detach: [sourceId] }));
  return agent;
}

/** The agent's sources in attachment order. */
export async function listAgentSources(db: PrismaClient, actor: Actor, agentId: string): Promise<Source[]> {
  await getAgent(db, actor, agentId, 'agentId');
  const links = await db.sourceAgent.findMany({ where: { agentId }, orderBy: [{ createdAt: 'asc' }, { sourceId: 'asc' }], select: { source: true } });
  return links.map((link) => link.source);
}

// ───────────────────────────── tools ─────────────────────────────

async function requireTool(db: PrismaClient, toolId: string): Promise<void> {
  if (!(await db.tool.count({ where: { id: toolId } }))) throw notFound('Tool', toolId);
}

/** Attaches a tool (idempotent). */
export async function attachTool(db: PrismaClient, actor: Actor, agentId: string, toolId: string): Promise<Agent> {
  requireId('tool', toolId, 'toolId');
  const agent = await getAgent(db, actor, agentId, 'agentId');
  await requireTool(db, toolId);
  await db.toolAgent.createMany({ data: [{ organizationId: actor.organizationId, agentId, toolId }], skipDuplicates: true });
  return agent;
}

/** Detaches a tool (idempotent). */
export async function detachTool(db: PrismaClient, actor: Actor, agentId: string, toolId: string): Promise<Agent> {
  requireId('tool', toolId, 'toolId');
  const agent = await getAgent(db, actor, agentId, 'agentId');
  await requireTool(db, toolId);
  await db.toolAgent.deleteMany({ where: { agentId, toolId } });
  return agent;
}
