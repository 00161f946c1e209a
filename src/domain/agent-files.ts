import type { Actor } from '../core/auth.js';
import { badInput, conflict, notFound } from '../core/errors.js';
import type { FileAgent, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { requireId } from './ids.js';
import { LIVE_CONTENT } from './passage-visibility.js';

/**
 * An agent's working memory of files (Letta's files_agents): one row per (agent, file) of its sources, open or
 * closed, holding the rendered view the agent sees. At most `maxFilesOpen` rows are open; opening more closes the
 * least recently accessed. `db` is tenant-scoped throughout.
 */

// ───────────────────────────── rendering ─────────────────────────────

/** Letta's marker, sized into the limit so a truncated view is exactly `charLimit` characters long. */
const TRUNCATION_WARNING = '...[TRUNCATED]\n# NOTE: This block is truncated, use functions to view the full content.';

/** Media types Letta views sentence by sentence (its "documentation" strategy). */
const DOCUMENTATION_TYPES = new Set(['text/markdown', 'text/x-markdown']);

/** Media types Letta views as code: indentation matters, so only trailing whitespace is trimmed. */
const CODE_TYPES = new Set([
  'text/x-python', 'text/javascript', 'application/javascript', 'text/x-typescript', 'application/typescript',
  'text/x-java-source', 'text/x-c++', 'text/x-c', 'text/x-csharp', 'text/x-php', 'text/x-ruby', 'text/x-go',
  'text/x-rust', 'text/x-swift', 'text/x-kotlin', 'text/x-scala', 'text/x-r', 'text/x-objective-c', 'text/x-jsx',
  'text/x-tsx', 'text/x-vue', 'text/html', 'text/x-shellscript', 'text/x-powershell', 'text/x-batch',
  'text/x-dockerfile', 'text/x-sql',
]);

/** Python's str.splitlines separators, which Letta splits on. */
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

export interface ViewWindow {
  /** First line shown, 1-based. */
  startLine?: number | null;
  /** Last line shown, 1-based and inclusive (Letta stores the same number); past the end means "to the end". */
  endLine?: number | null;
}

export interface RenderOptions extends ViewWindow {
  mediaType?: string | null;
  charLimit: number;
}

function viewUnits(text: string, mediaType: string | null | undefined): { units: string[]; unit: 'lines' | 'sentences' } {
  const type = mediaType?.split(';')[0].trim().toLowerCase() ?? '';
  if (DOCUMENTATION_TYPES.has(type)) {
    const sentences = text.trim().split(/(?<=[.!?])\s+(?=[A-Z])/).map((s) => s.replace(/\s+/g, ' ').trim());
    return { units: sentences.filter(Boolean), unit: 'sentences' };
  }
  const keepIndent = CODE_TYPES.has(type);
  const lines = text.split(LINE_BREAK).map((line) => (keepIndent ? line.trimEnd() : line.trim()));
  return { units: lines.filter(Boolean), unit: 'lines' };
}

function checkWindow({ startLine, endLine }: ViewWindow): void {
  if (startLine != null && (!Number.isInteger(startLine) || startLine < 1)) throw badInput('startLine must be an integer ≥ 1', 'startLine');
  if (endLine != null && (!Number.isInteger(endLine) || endLine < (startLine ?? 1))) {
    throw badInput('endLine must be an integer ≥ startLine (and ≥ 1)', 'endLine');
  }
}

/**
 * The numbered view Letta puts in an agent's context: a header, then `n: line` for each non-empty line (sentences
 * for Markdown), cut to `charLimit` characters with Letta's truncation warning.
 */
export function renderVisibleContent(text: string, options: RenderOptions): string {
  checkWindow(options);
  if (!text) return '';
  const { units, unit } = viewUnits(text, options.mediaType);
  const total = units.length;
  const { startLine, endLine } = options;
  let first = 0;
  let last = total;
  let header = `[Viewing file start (out of ${total} ${unit})]`;
  if (startLine != null || endLine != null) {
    first = (startLine ?? 1) - 1;
    if (first >= total) throw badInput(`The file has only ${total} ${unit}; line ${first + 1} is out of range`, 'startLine');
    last = Math.min(endLine ?? total, total);
    header = `[Viewing ${unit} ${first + 1} to ${endLine == null ? 'end' : last} (out of ${total} ${unit})]`;
  }
  const view = [header, ...units.slice(first, last).map((line, i) => `${first + i + 1}: ${line}`)].join('\n');
  if (view.length <= options.charLimit) return view;
  return view.slice(0, Math.max(0, options.charLimit - TRUNCATION_WARNING.length)) + TRUNCATION_WARNING;
}

// ───────────────────────────── placement (shared with agents.ts) ─────────────────────────────

/** What placement needs to know about an agent's existing rows. */
export const placedFileSelect = {
  id: true,
  fileId: true,
  fileName: true,
  isOpen: true,
  lastAccessedAt: true,
  file: { select: { createdAt: true } },
} satisfies Prisma.FileAgentSelect;

export type PlacedFile = Prisma.FileAgentGetPayload<{ select: typeof placedFileSelect }>;

/** What placement needs to know about a file entering an agent's working memory. */
export const incomingFileSelect = {
  id: true,
  sourceId: true,
  fileName: true,
  mediaType: true,
  createdAt: true,
  contents: { where: LIVE_CONTENT, orderBy: { seq: 'asc' }, select: { text: true } },
} satisfies Prisma.FileSelect;

export type IncomingFile = Prisma.FileGetPayload<{ select: typeof incomingFileSelect }> & ViewWindow;

export interface AgentFileLimits {
  id: string;
  maxFilesOpen: number;
  perFileViewWindowCharLimit: number;
}

export interface Placement {
  /** The incoming files actually placed (duplicates and name clashes left out). */
  placed: IncomingFile[];
  creates: Prisma.FileAgentCreateManyInput[];
  updates: { id: string; data: Prisma.FileAgentUpdateInput }[];
  closeIds: string[];
  closedFileNames: string[];
}

const byRecency = (a: PlacedFile, b: PlacedFile) =>
  b.lastAccessedAt.getTime() - a.lastAccessedAt.getTime() || b.file.createdAt.getTime() - a.file.createdAt.getTime() || (a.id < b.id ? -1 : 1);

/**
 * Decides, without writing, how `incoming` files enter an agent's working memory: they become its most recently
 * accessed files (newest file first), and only the `maxFilesOpen` most recent rows stay open. A file name may appear
 * once per agent, so an older duplicate, or a name another file of the agent already holds, is left out.
 */
export function planPlacement(actor: Actor, agent: AgentFileLimits, existing: PlacedFile[], incoming: IncomingFile[], now = new Date()): Placement {
  const rowByFile = new Map(existing.map((row) => [row.fileId, row]));
  const nameOwner = new Map(existing.map((row) => [row.fileName, row.fileId]));
  const names = new Set<string>();
  const placed = [...incoming]
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
    .filter((file) => {
      const owner = nameOwner.get(file.fileName);
      if (names.has(file.fileName) || (owner !== undefined && owner !== file.id)) return false;
      names.add(file.fileName);
      return true;
    });
  const placedIds = new Set(placed.map((file) => file.id));
  const evictable = existing.filter((row) => row.isOpen && !placedIds.has(row.fileId)).sort(byRecency);
  const room = Math.max(0, agent.maxFilesOpen - placed.length);

  const result: Placement = { placed, creates: [], updates: [], closeIds: [], closedFileNames: [] };
  placed.forEach((file, rank) => {
    const isOpen = rank < agent.maxFilesOpen;
    const visibleContent =
      isOpen && file.contents.length
        ? renderVisibleContent(file.contents.map((piece) => piece.text).join(''), { mediaType: file.mediaType, startLine: file.startLine, endLine: file.endLine, charLimit: agent.perFileViewWindowCharLimit })
        : null;
    const view = { fileName: file.fileName, isOpen, visibleContent, startLine: file.startLine ?? null, endLine: file.endLine ?? null, lastAccessedAt: now };
    const row = rowByFile.get(file.id);
    if (row) result.updates.push({ id: row.id, data: view });
    else {
      result.creates.push({ organizationId: actor.organizationId, agentId: agent.id, fileId: file.id, sourceId: file.sourceId, ...view });
    }
    if (!isOpen && (row?.isOpen ?? true)) result.closedFileNames.push(file.fileName);
  });
  for (const row of evictable.slice(room)) {
    result.closeIds.push(row.id);
    result.closedFileNames.push(row.fileName);
  }
  return result;
}

const CLOSED = { isOpen: false, visibleContent: null };

/** The writes of a placement, to run in one `$transaction([...])` with whatever else the caller changes. */
export function placementWrites(db: PrismaClient, placement: Placement): Prisma.PrismaPromise<unknown>[] {
  const writes: Prisma.PrismaPromise<unknown>[] = placement.updates.map(({ id, data }) => db.fileAgent.update({ where: { id }, data }));
  if (placement.creates.length) writes.push(db.fileAgent.createMany({ data: placement.creates, skipDuplicates: true }));
  if (placement.closeIds.length) writes.push(db.fileAgent.updateMany({ where: { id: { in: placement.closeIds } }, data: CLOSED }));
  return writes;
}

// ───────────────────────────── operations ─────────────────────────────

const agentLimitsSelect = { id: true, maxFilesOpen: true, perFileViewWindowCharLimit: true } as const;

async function requireAgent(db: PrismaClient, agentId: string): Promise<AgentFileLimits> {
  requireId('agent', agentId, 'agentId');
  const agent = await db.agent.findUnique({ where: { id: agentId }, select: agentLimitsSelect });
  if (!agent) throw notFound('Agent', agentId);
  return agent;
}

export interface OpenFileResult {
  fileAgent: FileAgent;
  /** Files closed to stay within the agent's open-file limit. */
  closedFileNames: string[];
}

/**
 * Opens a file in the agent's working memory, whole or a window of lines, and makes it the most recently accessed.
 * The file must belong to a source attached to the agent (or already be in its working memory). Reopening an open
 * file closes nothing.
 */
export async function openFile(db: PrismaClient, actor: Actor, agentId: string, fileId: string, window: ViewWindow = {}): Promise<OpenFileResult> {
  requireId('file', fileId, 'fileId');
  checkWindow(window);
  const agent = await requireAgent(db, agentId);
  const file = await db.file.findUnique({ where: { id: fileId }, select: incomingFileSelect });
  if (!file) throw notFound('File', fileId);
  const existing = await db.fileAgent.findMany({ where: { agentId }, select: placedFileSelect });
  const visible = existing.some((row) => row.fileId === fileId) || (await db.sourceAgent.count({ where: { agentId, sourceId: file.sourceId } })) > 0;
  if (!visible) throw notFound('File', fileId);

  const placement = planPlacement(actor, agent, existing, [{ ...file, startLine: window.startLine, endLine: window.endLine }]);
  if (!placement.placed.length) throw conflict(`Agent ${agentId} already has another file named ${file.fileName}`, 'fileId');
  await db.$transaction(placementWrites(db, placement));
  const fileAgent = await db.fileAgent.findUniqueOrThrow({ where: { fileId_agentId: { fileId, agentId } } });
  return { fileAgent, closedFileNames: placement.closedFileNames };
}

/** Closes a file: it stays in the agent's working memory with no visible content. */
export async function closeFile(db: PrismaClient, actor: Actor, agentId: string, fileId: string): Promise<FileAgent> {
  requireId('file', fileId, 'fileId');
  await requireAgent(db, agentId);
  const row = await db.fileAgent.findUnique({ where: { fileId_agentId: { fileId, agentId } }, select: { id: true } });
  if (!row) throw notFound('File', fileId);
  return db.fileAgent.update({ where: { id: row.id }, data: CLOSED });
}

/** Closes every open file of the agent and returns their names. */
export async function closeAllFiles(db: PrismaClient, actor: Actor, agentId: string): Promise<string[]> {
  await requireAgent(db, agentId);
  const closed = await db.fileAgent.updateManyAndReturn({ where: { agentId, isOpen: true }, data: CLOSED, select: { fileName: true } });
  return closed.map((row) => row.fileName).sort();
}

export interface AgentFilePage {
  files: (FileAgent & { source: { name: string } })[];
  hasMore: boolean;
  /** The id to pass as `after` for the next page, or null on the last one. */
  nextCursor: string | null;
}

/** The agent's file rows in id order (Letta's cursor order), optionally only open or only closed ones. */
export async function listAgentFiles(
  db: PrismaClient,
  actor: Actor,
  agentId: string,
  options: { isOpen?: boolean | null; limit?: number | null; after?: string | null } = {},
): Promise<AgentFilePage> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput('limit must be between 1 and 1000', 'limit');
  if (options.after != null) requireId('file_agent', options.after, 'after');
  await requireAgent(db, agentId);
  const rows = await db.fileAgent.findMany({
    where: {
      agentId,
      ...(options.isOpen != null ? { isOpen: options.isOpen } : {}),
      ...(options.after != null ? { id: { gt: options.after } } : {}),
    },
    include: { source: { select: { name: true } } },
    orderBy: { id: 'asc' },
    take: limit + 1,
  });
  const files = rows.slice(0, limit);
  const hasMore = rows.length > limit;
  return { files, hasMore, nextCursor: hasMore ? files[files.length - 1].id : null };
}

/**
 * For ingestion, once a file's text is stored: puts the file, open and freshly rendered, into the working memory
 * of every agent attached to its source (updating a row it may already have), within each agent's open-file limit.
 */
export async function insertFileForAttachedAgents(
  db: PrismaClient,
  actor: Actor,
  fileId: string,
): Promise<{ agentId: string; closedFileNames: string[] }[]> {
  requireId('file', fileId, 'fileId');
  const file = await db.file.findUnique({ where: { id: fileId }, select: incomingFileSelect });
  if (!file) throw notFound('File', fileId);
  const agents = await db.agent.findMany({
    where: { sources: { some: { sourceId: file.sourceId } } },
    select: { ...agentLimitsSelect, files: { select: placedFileSelect } },
  });
  const placements = agents.map((agent) => ({ agentId: agent.id, placement: planPlacement(actor, agent, agent.files, [file]) }));
  await db.$transaction(placements.flatMap(({ placement }) => placementWrites(db, placement)));
  return placements.map(({ agentId, placement }) => ({ agentId, closedFileNames: placement.closedFileNames }));
}
