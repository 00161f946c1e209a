import type { Actor } from '../core/auth.js';
import { badInput } from '../core/errors.js';
import type { Prisma, PrismaClient, Tool } from '../generated/prisma/client.js';

/**
 * Letta's built-in tools, stored per organization like any tool so agents link to them the same way. Quarry does
 * not run them (an agent runtime does); it keeps their schemas so models and clients see what Letta shows.
 */

type ParameterSchema = Record<string, unknown>;

interface BaseTool {
  toolType: 'letta_core' | 'letta_memory_core' | 'letta_files_core';
  description: string;
  properties: Record<string, ParameterSchema>;
  required: string[];
}

const BASE_TOOLS = {
  send_message: {
    toolType: 'letta_core',
    description: 'Sends a message to the human user.',
    properties: { message: { type: 'string', description: 'Message contents. All unicode (including emojis) are supported.' } },
    required: ['message'],
  },
  conversation_search: {
    toolType: 'letta_core',
    description:
      'Search prior conversation history using hybrid search (text + semantic similarity). Without a query, returns ' +
      'the messages matching the other filters (roles, time range).',
    properties: {
      query: { type: 'string', description: 'Text to look for, matched both literally and by meaning.' },
      roles: {
        type: 'array',
        items: { type: 'string', enum: ['assistant', 'user', 'tool'] },
        description: 'Only messages with one of these roles.',
      },
      limit: { type: 'integer', description: 'Maximum number of results; the system default when omitted.' },
      start_date: {
        type: 'string',
        description: 'Only messages created on or after this date (inclusive), ISO 8601: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM".',
      },
      end_date: {
        type: 'string',
        description: 'Only messages created on or before this date (inclusive; a date alone covers the whole day), ISO 8601.',
      },
    },
    required: [],
  },
  archival_memory_insert: {
    toolType: 'letta_core',
    description:
      'Add information to long-term archival memory for later retrieval. Archival memory is permanent and searchable ' +
      'by semantic similarity: store self-contained facts or summaries, with tags that make them easy to find.',
    properties: {
      content: { type: 'string', description: 'The information to store, clear and self-contained.' },
      tags: { type: 'array', items: { type: 'string' }, description: 'Optional category tags, e.g. ["meetings", "project-updates"].' },
    },
    required: ['content'],
  },
  archival_memory_search: {
    toolType: 'letta_core',
    description:
      'Search archival memory by semantic similarity (meaning, not exact keywords) to recall stored information. ' +
      'Results are ranked by relevance; tags and a time range narrow them.',
    properties: {
      query: { type: 'string', description: 'What to look for, described naturally, e.g. "meetings about API redesign".' },
      tags: { type: 'array', items: { type: 'string' }, description: 'Only memories with these tags (see tag_match_mode).' },
      tag_match_mode: {
        type: 'string',
        enum: ['any', 'all'],
        description: '"any": memories with any of the tags; "all": only memories with every tag.',
      },
      top_k: { type: 'integer', description: 'Maximum number of results (default 10).' },
      start_datetime: { type: 'string', description: 'Only memories created after this time, ISO 8601 ("2024-01-15" or "2024-01-15T14:30").' },
      end_datetime: { type: 'string', description: 'Only memories created before this time, ISO 8601.' },
    },
    required: ['query'],
  },
  core_memory_append: {
    toolType: 'letta_memory_core',
    description: 'Append to the contents of core memory.',
    properties: {
      label: { type: 'string', description: 'Section of the memory to be edited.' },
      content: { type: 'string', description: 'Content to write to the memory. All unicode (including emojis) are supported.' },
    },
    required: ['label', 'content'],
  },
  core_memory_replace: {
    toolType: 'letta_memory_core',
    description: 'Replace the contents of core memory. To delete memories, use an empty string for new_content.',
    properties: {
      label: { type: 'string', description: 'Section of the memory to be edited.' },
      old_content: { type: 'string', description: 'String to replace. Must be an exact match.' },
      new_content: { type: 'string', description: 'Content to write to the memory. All unicode (including emojis) are supported.' },
    },
    required: ['label', 'old_content', 'new_content'],
  },
  open_files: {
    toolType: 'letta_files_core',
    description:
      'Open one or more files and load their contents into the files section of core memory, whole or a range of ' +
      'lines. Opening beyond the open-file limit closes the least recently used files; close_all_others=true replaces ' +
      'the open files with the requested ones.',
    properties: {
      file_requests: {
        type: 'array',
        description: 'The files to open, each with an optional view range.',
        items: {
          type: 'object',
          properties: {
            file_name: { type: 'string', description: 'Name of the file, including its directory, e.g. "project_utils/config.py".' },
            offset: { type: 'integer', description: 'First line to show (1-indexed); the start of the file when omitted.' },
            length: { type: 'integer', description: 'Number of lines to show; the rest of the file when omitted.' },
          },
          required: ['file_name'],
        },
      },
      close_all_others: { type: 'boolean', description: 'Close every other open file first. Defaults to false.' },
    },
    required: ['file_requests'],
  },
  grep_files: {
    toolType: 'letta_files_core',
    description:
      'Search file contents for a keyword or regular expression and show each match with surrounding lines. ' +
      'Results come 20 matches at a time, with totals per file and the offset of the next page.',
    properties: {
      pattern: { type: 'string', description: 'Keyword or regular expression to search for in file contents.' },
      include: { type: 'string', description: 'Optional keyword, glob or regular expression that file names must match.' },
      context_lines: { type: 'integer', description: 'Lines of context before and after each match (like grep -C). Defaults to 1.' },
      offset: { type: 'integer', description: 'Number of matches to skip, for the next page (0 or omitted for the first).' },
    },
    required: ['pattern'],
  },
  semantic_search_files: {
    toolType: 'letta_files_core',
    description:
      'Search file contents by meaning rather than exact matches: finds conceptually related passages across files ' +
      'without knowing the exact keywords.',
    properties: {
      query: { type: 'string', description: 'Text whose meaning to look for.' },
      limit: { type: 'integer', description: 'Maximum number of results (default 5).' },
    },
    required: ['query'],
  },
} satisfies Record<string, BaseTool>;

export type BaseToolName = keyof typeof BASE_TOOLS;

/** The tools Letta gives an agent by default. */
export const BASE_TOOL_NAMES: readonly BaseToolName[] = [
  'send_message',
  'conversation_search',
  'archival_memory_insert',
  'archival_memory_search',
  'core_memory_append',
  'core_memory_replace',
];

/** The tools an agent gets with its first source and loses with its last. */
export const FILE_TOOL_NAMES: readonly BaseToolName[] = ['open_files', 'grep_files', 'semantic_search_files'];

export const FILE_TOOL_TYPE = 'letta_files_core';

const ALL_NAMES = Object.keys(BASE_TOOLS) as BaseToolName[];

/** The OpenAI function schema of a built-in tool, as stored in Tool.jsonSchema. */
export function baseToolSchema(name: BaseToolName) {
  const tool: BaseTool = BASE_TOOLS[name];
  return {
    name,
    description: tool.description,
    parameters: { type: 'object', properties: tool.properties, required: tool.required },
  };
}

/** True for a stored copy of a built-in tool; a custom tool that merely borrows a built-in name is not one. */
export function isBaseTool(tool: Pick<Tool, 'name' | 'toolType'>): boolean {
  return Object.hasOwn(BASE_TOOLS, tool.name) && BASE_TOOLS[tool.name as BaseToolName].toolType === tool.toolType;
}

/**
 * Organizations this process has seen with every built-in tool. Built-in tools cannot be deleted, so once there they
 * stay: listing writes nothing after the first time. (Kept to ensures outside transactions: a rolled-back insert
 * would leave a wrong entry; bounded, as an organization forgotten only costs one idempotent insert.)
 */
const complete = new Set<string>();
const COMPLETE_LIMIT = 50_000;

/**
 * Makes sure the organization has the named built-in tools (all of them by default) and returns their rows in
 * the order asked. Existing rows, including custom tools with a built-in name, are left as they are.
 */
export async function ensureBaseTools(db: PrismaClient, actor: Actor, names: readonly string[] = ALL_NAMES): Promise<Tool[]> {
  const unknown = names.filter((name) => !Object.hasOwn(BASE_TOOLS, name));
  if (unknown.length) throw badInput(`Not built-in tools: ${unknown.join(', ')}`, 'names');
  if (!complete.has(actor.organizationId)) await insertMissing(db, actor, names as BaseToolName[]);
  const tools = await db.tool.findMany({ where: { name: { in: [...names] } } });
  return names.map((name) => tools.find((tool) => tool.name === name)!);
}

/**
 * What listing the organization's tools needs first (Letta creates the built-in ones on first listing): every
 * built-in tool present. Writes once per organization and process, then nothing.
 */
export async function ensureAllBaseTools(db: PrismaClient, actor: Actor): Promise<void> {
  if (!complete.has(actor.organizationId)) await insertMissing(db, actor, ALL_NAMES);
}

async function insertMissing(db: PrismaClient, actor: Actor, names: readonly BaseToolName[]): Promise<void> {
  const data = names.map((name) => ({
    organizationId: actor.organizationId,
    name,
    description: BASE_TOOLS[name].description,
    toolType: BASE_TOOLS[name].toolType,
    jsonSchema: baseToolSchema(name) as Prisma.InputJsonValue,
    tags: [BASE_TOOLS[name].toolType],
    createdById: actor.userId,
    lastUpdatedById: actor.userId,
  }));
  await db.tool.createMany({ data, skipDuplicates: true });
  if (ALL_NAMES.every((name) => names.includes(name))) {
    if (complete.size >= COMPLETE_LIMIT) complete.clear();
    complete.add(actor.organizationId);
  }
}
