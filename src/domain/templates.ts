import type { Actor } from '../core/auth.js';
import { AppError, badInput, conflict, fromPrismaError, notFound } from '../core/errors.js';
import { checkName } from './names.js';
import { newId } from '../core/ids.js';
import type { Agent, AgentTemplate, AgentTemplateVersion, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { createAgent, type MemoryBlock } from './agents.js';
import { orNotFound, requireId } from './ids.js';

/**
 * Agent templates: versioned snapshots of an agent's configuration whose memory blocks and system prompt may hold
 * `{{variable}}` placeholders, filled in when an agent is made from a version. `db` is tenant-scoped throughout.
 *
 * Decisions:
 * - A template remembers the agent it was captured from; versionTemplate snapshots that agent again.
 * - createAgentFromTemplate needs a value for every variable the version uses (else BAD_USER_INPUT naming the
 *   missing ones) and ignores variables the version does not use, so one set of values can deploy several
 *   versions of a template that gained or dropped variables.
 * - Tools and sources of the snapshot deleted since are skipped and reported (skippedToolIds/skippedSourceIds)
 *   rather than failing: the template stays usable, and the caller sees exactly what the agent lacks.
 */

/** The configuration a version captures; stored as AgentTemplateVersion.snapshot. */
export interface TemplateSnapshot {
  description: string | null;
  system: string | null;
  model: string | null;
  llmConfig: Record<string, unknown> | null;
  embeddingConfig: Record<string, unknown> | null;
  memoryBlocks: MemoryBlock[];
  toolIds: string[];
  sourceIds: string[];
  tags: string[];
  maxFilesOpen: number;
  perFileViewWindowCharLimit: number;
}

export interface TemplateFilter {
  name?: string | null;
  agentId?: string | null;
}

export interface CaptureInput {
  agentId: string;
  /** Defaults to the agent's name. */
  name?: string | null;
  description?: string | null;
  message?: string | null;
}

export interface VersionInput {
  agentId?: string | null;
  templateId?: string | null;
  message?: string | null;
}

export interface InstantiateInput {
  templateId: string;
  /** Defaults to the template's latest version. */
  version?: number | null;
  memoryVariables?: Record<string, unknown> | null;
  /** Defaults to the template's name. */
  name?: string | null;
}

export interface Captured {
  template: AgentTemplate;
  version: AgentTemplateVersion;
}

export interface Instantiated {
  agent: Agent;
  version: AgentTemplateVersion;
  skippedToolIds: string[];
  skippedSourceIds: string[];
}

const NAME_MAX = 200;
const MESSAGE_MAX = 2000;

// ───────────────────────────── variables ─────────────────────────────

/** `{{name}}` or `{{ name }}`; names are identifiers. */
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variable names used in these texts, each once, in order of first use. */
export function memoryVariableNames(texts: (string | null | undefined)[]): string[] {
  const names = new Set<string>();
  for (const text of texts) for (const match of (text ?? '').matchAll(VARIABLE)) names.add(match[1]);
  return [...names];
}

/** One pass, so a value that itself looks like `{{x}}` is kept as written. */
function fill(text: string, values: Map<string, string>): string {
  return text.replace(VARIABLE, (placeholder, name: string) => values.get(name) ?? placeholder);
}

/**
 * The values for `names` from the caller's object. A Map, and own properties only, so a variable called
 * `constructor` or `__proto__` is never answered by Object.prototype.
 */
function requireValues(given: Record<string, unknown>, names: string[]): Map<string, string> {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw badInput('memoryVariables must be a JSON object', 'memoryVariables');
  const values = new Map<string, string>();
  for (const name of names) {
    if (!Object.hasOwn(given, name)) continue;
    const value = given[name];
    if (typeof value !== 'string') throw badInput(`Memory variable "${name}" must be a string`, `memoryVariables.${name}`);
    values.set(name, value);
  }
  const missing = names.filter((name) => !values.has(name));
  if (missing.length) {
    throw new AppError('BAD_USER_INPUT', `Missing memory variable${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { field: 'memoryVariables', missing });
  }
  return values;
}

/**
 * An agent's memory variables: for an agent made from a template, the values it was made with; for any other
 * agent, the placeholders in its memory blocks and system prompt, with null values. Sorted by name.
 */
export function agentMemoryVariables(agent: Pick<Agent, 'memoryVariables' | 'memoryBlocks' | 'system'>): { name: string; value: string | null }[] {
  const given = agent.memoryVariables as Record<string, string> | null;
  const variables = given
    ? Object.entries(given).map(([name, value]) => ({ name, value }))
    : memoryVariableNames([agent.system, ...(agent.memoryBlocks as unknown as MemoryBlock[]).map((b) => b.value)]).map((name) => ({ name, value: null }));
  return variables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ───────────────────────────── validation ─────────────────────────────

const checkTemplateName = (name: string) => checkName(name, { maxLength: NAME_MAX });

function checkMessage(message: string | null | undefined): string | null {
  if (message == null) return null;
  if (message.length > MESSAGE_MAX) throw badInput(`message must be at most ${MESSAGE_MAX} characters`, 'message');
  return message.trim() || null;
}

function duplicateName(error: unknown, name: string): unknown {
  return fromPrismaError(error)?.code === 'CONFLICT' ? conflict(`A template named "${name}" already exists in this organization`, 'name') : error;
}

// ───────────────────────────── templates ─────────────────────────────

export async function getTemplate(db: PrismaClient, id: string, field = 'id'): Promise<AgentTemplate> {
  requireId('template', id, field);
  return orNotFound(db.agentTemplate.findUnique({ where: { id } }), 'Template', id);
}

/** Prisma filter for `templates(…)`: case-insensitive substring of the name, and the agent captured. */
export function templateWhere(filter: TemplateFilter): Prisma.AgentTemplateWhereInput {
  const where: Prisma.AgentTemplateWhereInput = {};
  if (filter.name) where.name = { contains: filter.name, mode: 'insensitive' };
  if (filter.agentId != null) where.agentId = requireId('agent', filter.agentId, 'agentId');
  return where;
}

/** The agent's configuration as a snapshot, with its tools and sources in attachment order. */
async function captureAgent(db: PrismaClient, agentId: string): Promise<{ agent: Agent; snapshot: TemplateSnapshot }> {
  requireId('agent', agentId, 'agentId');
  const found = await db.agent.findUnique({
    where: { id: agentId },
    include: {
      tools: { select: { toolId: true }, orderBy: [{ createdAt: 'asc' }, { toolId: 'asc' }] },
      sources: { select: { sourceId: true }, orderBy: [{ createdAt: 'asc' }, { sourceId: 'asc' }] },
    },
  });
  if (!found) throw notFound('Agent', agentId);
  const { tools, sources, ...agent } = found;
  const snapshot: TemplateSnapshot = {
    description: agent.description,
    system: agent.system,
    model: agent.model,
    llmConfig: agent.llmConfig as Record<string, unknown> | null,
    embeddingConfig: agent.embeddingConfig as Record<string, unknown> | null,
    memoryBlocks: agent.memoryBlocks as unknown as MemoryBlock[],
    toolIds: tools.map((link) => link.toolId),
    sourceIds: sources.map((link) => link.sourceId),
    tags: agent.tags,
    maxFilesOpen: agent.maxFilesOpen,
    perFileViewWindowCharLimit: agent.perFileViewWindowCharLimit,
  };
  return { agent, snapshot };
}

function versionRow(actor: Actor, templateId: string, version: number, message: string | null, snapshot: TemplateSnapshot) {
  return {
    organizationId: actor.organizationId,
    templateId,
    version,
    message,
    snapshot: snapshot as unknown as Prisma.InputJsonObject,
    memoryVariables: memoryVariableNames([snapshot.system, ...snapshot.memoryBlocks.map((b) => b.value)]),
    createdById: actor.userId,
  };
}

/** Captures the agent as a new template whose version 1 is its current configuration. Names are unique per organization. */
export async function createTemplateFromAgent(db: PrismaClient, actor: Actor, input: CaptureInput): Promise<Captured> {
  const message = checkMessage(input.message);
  const { agent, snapshot } = await captureAgent(db, input.agentId);
  const name = checkTemplateName(input.name ?? agent.name);
  const templateId = newId('template');
  try {
    const [template, version] = await db.$transaction([
      db.agentTemplate.create({
        data: { id: templateId, organizationId: actor.organizationId, name, description: input.description ?? null, agentId: agent.id, latestVersion: 1, createdById: actor.userId },
      }),
      db.agentTemplateVersion.create({ data: versionRow(actor, templateId, 1, message, snapshot) }),
    ]);
    return { template, version };
  } catch (error) {
    throw duplicateName(error, name);
  }
}

/**
 * Saves the template's agent as the template's next version. Give exactly one of `templateId` or `agentId`;
 * an agent that is the origin of no template gets one first (named after it, version 1).
 */
export async function versionTemplate(db: PrismaClient, actor: Actor, input: VersionInput): Promise<Captured & { createdTemplate: boolean }> {
  if ((input.agentId == null) === (input.templateId == null)) {
    throw badInput('Give exactly one of agentId and templateId', input.agentId == null ? 'templateId' : 'agentId');
  }
  const message = checkMessage(input.message);
  let template: AgentTemplate;
  if (input.templateId != null) {
    template = await getTemplate(db, input.templateId, 'templateId');
  } else {
    const agentId = requireId('agent', input.agentId!, 'agentId');
    const own = await db.agentTemplate.findMany({ where: { agentId }, take: 2 });
    if (own.length === 0) return { ...(await createTemplateFromAgent(db, actor, { agentId, message })), createdTemplate: true };
    if (own.length > 1) throw badInput(`Agent ${agentId} was captured as several templates; give templateId`, 'agentId');
    template = own[0];
  }
  if (!template.agentId) throw badInput(`The agent template ${template.id} was captured from no longer exists`, 'templateId');
  const { snapshot } = await captureAgent(db, template.agentId);

  // The increment locks the template row, so concurrent versioning numbers versions one after another.
  return db.$transaction(async (tx) => {
    const updated = await tx.agentTemplate.update({ where: { id: template.id }, data: { latestVersion: { increment: 1 } } });
    const version = await tx.agentTemplateVersion.create({ data: versionRow(actor, template.id, updated.latestVersion, message, snapshot) });
    return { template: updated, version, createdTemplate: false };
  });
}

/**
 * Makes an agent from a template version with its placeholders filled in, linked to the template and version
 * and remembering the values it was given.
 */
export async function createAgentFromTemplate(db: PrismaClient, actor: Actor, input: InstantiateInput): Promise<Instantiated> {
  const template = await getTemplate(db, input.templateId, 'templateId');
  const number = input.version ?? template.latestVersion;
  if (!Number.isInteger(number) || number < 1) throw badInput('version must be a positive integer', 'version');
  const version = await db.agentTemplateVersion.findUnique({ where: { templateId_version: { templateId: template.id, version: number } } });
  if (!version) {
    throw new AppError('NOT_FOUND', `Template ${template.id} has no version ${number} (latest is ${template.latestVersion})`, { field: 'version' });
  }
  const values = requireValues(input.memoryVariables ?? {}, version.memoryVariables);
  const snapshot = version.snapshot as unknown as TemplateSnapshot;

  const [tools, sources] = await Promise.all([
    db.tool.findMany({ where: { id: { in: snapshot.toolIds } }, select: { id: true } }),
    db.source.findMany({ where: { id: { in: snapshot.sourceIds } }, select: { id: true } }),
  ]);
  const toolIds = new Set(tools.map((tool) => tool.id));
  const sourceIds = new Set(sources.map((source) => source.id));

  const agent = await createAgent(db, actor, {
    name: input.name ?? template.name,
    description: snapshot.description,
    system: snapshot.system == null ? null : fill(snapshot.system, values),
    model: snapshot.model,
    llmConfig: snapshot.llmConfig,
    embeddingConfig: snapshot.embeddingConfig,
    memoryBlocks: snapshot.memoryBlocks.map((block) => ({ ...block, value: fill(block.value, values) })),
    tags: snapshot.tags,
    maxFilesOpen: snapshot.maxFilesOpen,
    perFileViewWindowCharLimit: snapshot.perFileViewWindowCharLimit,
    toolIds: snapshot.toolIds.filter((id) => toolIds.has(id)),
    sourceIds: snapshot.sourceIds.filter((id) => sourceIds.has(id)),
  });
  // createAgent writes in its own transaction; should linking fail (the template deleted meanwhile), the agent goes too.
  try {
    const linked = await db.agent.update({
      where: { id: agent.id },
      data: { templateId: template.id, templateVersionId: version.id, memoryVariables: Object.fromEntries(values) },
    });
    return {
      agent: linked,
      version,
      skippedToolIds: snapshot.toolIds.filter((id) => !toolIds.has(id)),
      skippedSourceIds: snapshot.sourceIds.filter((id) => !sourceIds.has(id)),
    };
  } catch (error) {
    await db.agent.delete({ where: { id: agent.id } });
    throw error;
  }
}
