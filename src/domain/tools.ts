import { isDeepStrictEqual } from 'node:util';
import type { Actor } from '../core/auth.js';
import { AppError, badInput, conflict, forbidden, fromPrismaError, notFound } from '../core/errors.js';
import { checkName } from './names.js';
import { Prisma, type PrismaClient, type Tool } from '../generated/prisma/client.js';
import { BASE_TOOL_NAMES, ensureAllBaseTools, FILE_TOOL_NAMES, isBaseTool } from './base-tools.js';
import { containsInsensitive } from './filters.js';
import { orNotFound, requireId } from './ids.js';
import { deriveToolSchema, pythonFunctionNames, ToolSchemaError } from './tools/python-schema.js';

/**
 * Tools agents call: custom tools written by users, and Letta's built-in tools that every organization has
 * (base-tools.ts). A tool is named by its OpenAI function schema (`jsonSchema.name`), which is given or derived
 * from the Python source without running it (reference §10.4). `db` is tenant-scoped throughout.
 */

export interface ToolInput {
  sourceCode: string;
  sourceType?: string | null;
  description?: string | null;
  tags?: string[] | null;
  jsonSchema?: Record<string, unknown> | null;
  argsJsonSchema?: Record<string, unknown> | null;
  returnCharLimit?: number | null;
  metadata?: Record<string, unknown> | null;
  /** Packages the tool needs to run, kept for the runtime: `[{ name, version? }]`. */
  pipRequirements?: Requirement[] | null;
  npmRequirements?: Requirement[] | null;
  defaultRequiresApproval?: boolean | null;
  enableParallelExecution?: boolean | null;
}

export interface Requirement {
  name: string;
  version?: string | null;
}

/** Fields left out or null keep their value (Letta's rule). */
export type ToolPatch = { [K in keyof ToolInput]?: ToolInput[K] | null };

export interface ToolFilter {
  /** Exact name. */
  name?: string | null;
  /** Any of these exact names. */
  names?: string[] | null;
  ids?: string[] | null;
  /** Case-insensitive substring of the name. */
  search?: string | null;
  tags?: string[] | null;
  /** With `tags`: every tag must be present (default: any of them). */
  matchAllTags?: boolean | null;
  toolTypes?: string[] | null;
  excludeToolTypes?: string[] | null;
  /** Built-in (letta_*) tools too; when false only the organization's own tools. */
  includeBaseTools?: boolean | null;
}

/** Letta's ToolType values. */
export const TOOL_TYPES = [
  'custom',
  'letta_core',
  'letta_memory_core',
  'letta_multi_agent_core',
  'letta_sleeptime_core',
  'letta_voice_sleeptime_core',
  'letta_builtin',
  'letta_files_core',
  'external_langchain',
  'external_composio',
  'external_mcp',
] as const;

const SOURCE_TYPES = ['python', 'typescript', 'json'];
const RETURN_CHAR_LIMIT_MAX = 1_000_000;
/** Letta's limit on explicit names; OpenAI allows function names of [A-Za-z0-9_-]. */
const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;
const BUILT_IN_NAMES = new Set<string>([...BASE_TOOL_NAMES, ...FILE_TOOL_NAMES]);
/** Letta's built-in tools all have a `letta_…` type; tools created through the API are `custom`. */
const BUILT_IN_WHERE: Prisma.ToolWhereInput = { toolType: { in: TOOL_TYPES.filter((type) => type.startsWith('letta_')) } };

// ───────────────────────────── validation ─────────────────────────────

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkObject(value: unknown, field: string): Record<string, unknown> {
  if (!isObject(value)) throw badInput(`${field} must be a JSON object`, field);
  return value;
}

function checkSourceType(sourceType: string): string {
  if (!SOURCE_TYPES.includes(sourceType)) throw badInput(`sourceType must be one of: ${SOURCE_TYPES.join(', ')}`, 'sourceType');
  return sourceType;
}

function checkToolName(name: unknown, field: string): string {
  // The shared rule first (its message says what is wrong), then the identifier shape agents call tools by.
  if (typeof name === 'string') checkName(name, { field, maxLength: Infinity });
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    throw badInput(`Tool name ${JSON.stringify(name)} must be an identifier of at most 48 ASCII letters, digits and underscores`, field);
  }
  return name;
}

function checkToolTypes(types: string[], field: string): string[] {
  const invalid = types.find((type) => !(TOOL_TYPES as readonly string[]).includes(type));
  if (invalid !== undefined) throw badInput(`Invalid tool type "${invalid}"; expected one of: ${TOOL_TYPES.join(', ')}`, field);
  return types;
}

interface Columns {
  description?: string;
  tags?: string[];
  returnCharLimit?: number;
  metadata?: Prisma.InputJsonObject;
  argsJsonSchema?: Prisma.InputJsonObject;
  pipRequirements?: Prisma.InputJsonArray;
  npmRequirements?: Prisma.InputJsonArray;
  defaultRequiresApproval?: boolean;
  enableParallelExecution?: boolean;
}

function checkRequirements(value: Requirement[], field: string): Prisma.InputJsonArray {
  if (!Array.isArray(value)) throw badInput(`${field} must be a list of { name, version }`, field);
  return value.map((req, i) => {
    if (!isObject(req) || typeof req.name !== 'string' || !req.name.trim()) throw badInput(`${field}.${i}.name must be a package name`, `${field}.${i}.name`);
    if (req.version != null && typeof req.version !== 'string') throw badInput(`${field}.${i}.version must be a string`, `${field}.${i}.version`);
    return { name: req.name.trim(), version: req.version ?? null };
  });
}

/** The plain columns set by the fields present and non-null in `input`, validated. */
function plainColumns(input: ToolPatch): Columns {
  const columns: Columns = {};
  if (input.description != null) columns.description = input.description;
  if (input.tags != null) {
    if (input.tags.some((tag) => tag.trim() === '')) throw badInput('Tags must not be empty', 'tags');
    columns.tags = [...new Set(input.tags)];
  }
  if (input.returnCharLimit != null) {
    const limit = input.returnCharLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > RETURN_CHAR_LIMIT_MAX) {
      throw badInput(`returnCharLimit must be an integer from 1 to ${RETURN_CHAR_LIMIT_MAX}`, 'returnCharLimit');
    }
    columns.returnCharLimit = limit;
  }
  if (input.metadata != null) columns.metadata = checkObject(input.metadata, 'metadata') as Prisma.InputJsonObject;
  if (input.argsJsonSchema != null) columns.argsJsonSchema = checkArgsJsonSchema(input.argsJsonSchema) as Prisma.InputJsonObject;
  if (input.pipRequirements != null) columns.pipRequirements = checkRequirements(input.pipRequirements, 'pipRequirements');
  if (input.npmRequirements != null) columns.npmRequirements = checkRequirements(input.npmRequirements, 'npmRequirements');
  if (input.defaultRequiresApproval != null) columns.defaultRequiresApproval = input.defaultRequiresApproval;
  if (input.enableParallelExecution != null) columns.enableParallelExecution = input.enableParallelExecution;
  return columns;
}

function checkJsonSchema(value: unknown): Record<string, unknown> & { name: string } {
  const schema = checkObject(value, 'jsonSchema');
  const name = checkToolName(schema.name, 'jsonSchema.name');
  if (schema.description !== undefined && typeof schema.description !== 'string') {
    throw badInput('jsonSchema.description must be a string', 'jsonSchema.description');
  }
  if (schema.parameters !== undefined) checkObject(schema.parameters, 'jsonSchema.parameters');
  return { ...schema, name };
}

function checkArgsJsonSchema(value: unknown): Record<string, unknown> {
  const schema = checkObject(value, 'argsJsonSchema');
  if (schema.properties !== undefined) checkObject(schema.properties, 'argsJsonSchema.properties');
  if (schema.required !== undefined && !(Array.isArray(schema.required) && schema.required.every((r) => typeof r === 'string'))) {
    throw badInput('argsJsonSchema.required must be a list of property names', 'argsJsonSchema.required');
  }
  return schema;
}

// ───────────────────────────── definitions ─────────────────────────────

/** What names and describes a tool to a model, and which input field it came from (for errors about the name). */
interface Definition {
  name: string;
  description: string | null;
  jsonSchema: Record<string, unknown>;
  nameField: 'jsonSchema.name' | 'sourceCode';
}

/**
 * Letta's order (reference §10.4): a given `jsonSchema` is used as-is; otherwise Python source gives the name and
 * description (its last top-level function and that function's docstring) and the parameters, unless
 * `argsJsonSchema` gives them. The function must then be documented as derivation requires (typed, with an Args
 * entry per parameter) even though its parameters are not used.
 */
async function define(sourceType: string, sourceCode: string, jsonSchema: unknown, argsJsonSchema: unknown): Promise<Definition> {
  if (jsonSchema != null) {
    const schema = checkJsonSchema(jsonSchema);
    return { name: schema.name, description: (schema.description as string | undefined) ?? null, jsonSchema: schema, nameField: 'jsonSchema.name' };
  }
  if (sourceType !== 'python') throw badInput(`jsonSchema is required for ${sourceType} tools: only Python source is read`, 'jsonSchema');
  let derived: Awaited<ReturnType<typeof deriveToolSchema>>;
  try {
    derived = await deriveToolSchema(sourceCode);
  } catch (error) {
    if (error instanceof ToolSchemaError) throw badInput(error.message, 'sourceCode');
    throw error;
  }
  const name = checkToolName(derived.name, 'sourceCode');
  if (argsJsonSchema == null) return { name, description: derived.description, jsonSchema: derived.jsonSchema as unknown as Record<string, unknown>, nameField: 'sourceCode' };
  const args = checkArgsJsonSchema(argsJsonSchema);
  const parameters = {
    type: 'object',
    properties: args.properties ?? {},
    required: args.required ?? [],
    // Pydantic-generated schemas keep nested models here and refer to them with $ref.
    ...(args.$defs !== undefined ? { $defs: args.$defs } : {}),
  };
  return { name, description: derived.description, jsonSchema: { name, description: derived.description, parameters }, nameField: 'sourceCode' };
}

/** With a given jsonSchema, Python source must still define the function it names, or the tool could not run. */
async function requireFunction(sourceType: string, sourceCode: string, name: string): Promise<void> {
  if (sourceType !== 'python') return;
  if (!(await pythonFunctionNames(sourceCode)).includes(name)) {
    throw badInput(`sourceCode defines no top-level function named "${name}" (the name in jsonSchema)`, 'sourceCode');
  }
}

/** Built-in names stay with the built-in tools, which every organization gets lazily: a custom tool may not take one first. */
function requireCustomName(definition: Definition): void {
  if (BUILT_IN_NAMES.has(definition.name)) {
    throw conflict(`"${definition.name}" is the name of a built-in Letta tool; choose another name`, definition.nameField);
  }
}

function duplicateName(error: unknown, definition: Definition): unknown {
  return fromPrismaError(error)?.code === 'CONFLICT'
    ? conflict(`A tool named "${definition.name}" already exists in this organization`, definition.nameField)
    : error;
}

async function defineNew(input: ToolInput): Promise<{ definition: Definition; sourceType: string }> {
  const sourceType = checkSourceType(input.sourceType ?? 'python');
  const definition = await define(sourceType, input.sourceCode, input.jsonSchema, input.argsJsonSchema);
  if (input.jsonSchema != null) await requireFunction(sourceType, input.sourceCode, definition.name);
  requireCustomName(definition);
  return { definition, sourceType };
}

// ───────────────────────────── reads ─────────────────────────────

export async function getTool(db: PrismaClient, id: string, field = 'id'): Promise<Tool> {
  requireId('tool', id, field);
  return orNotFound(db.tool.findUnique({ where: { id } }), 'Tool', id);
}

/**
 * Prisma filter for `tools(…)` and `toolsCount(…)`. All given filters must hold; empty lists do not filter; `tags`
 * matches tools having any of the tags, or all of them with `matchAllTags`.
 */
export function toolWhere(filter: ToolFilter): Prisma.ToolWhereInput {
  const and: Prisma.ToolWhereInput[] = [];
  if (filter.name != null) and.push({ name: filter.name });
  if (filter.names?.length) and.push({ name: { in: filter.names } });
  if (filter.ids?.length) and.push({ id: { in: filter.ids.map((id) => requireId('tool', id, 'ids')) } });
  if (filter.search) and.push({ name: containsInsensitive(filter.search) });
  if (filter.tags?.length) and.push({ tags: filter.matchAllTags ? { hasEvery: filter.tags } : { hasSome: filter.tags } });
  if (filter.toolTypes?.length) and.push({ toolType: { in: checkToolTypes(filter.toolTypes, 'toolTypes') } });
  if (filter.excludeToolTypes?.length) and.push({ toolType: { notIn: checkToolTypes(filter.excludeToolTypes, 'excludeToolTypes') } });
  if (filter.includeBaseTools === false) and.push({ NOT: BUILT_IN_WHERE });
  return and.length ? { AND: and } : {};
}

/**
 * Counts the organization's tools; built-in tools only with `includeBaseTools: true` (default false), which first
 * makes sure the organization has them, as listing does.
 */
export async function countTools(db: PrismaClient, actor: Actor, filter: ToolFilter): Promise<number> {
  const includeBaseTools = filter.includeBaseTools ?? false;
  if (includeBaseTools) await ensureAllBaseTools(db, actor);
  return db.tool.count({ where: toolWhere({ ...filter, includeBaseTools }) });
}

// ───────────────────────────── writes ─────────────────────────────

async function insertTool(db: PrismaClient, actor: Actor, input: ToolInput, sourceType: string, definition: Definition): Promise<Tool> {
  const columns = plainColumns(input);
  try {
    return await db.tool.create({
      data: {
        ...columns,
        organizationId: actor.organizationId,
        name: definition.name,
        description: columns.description ?? definition.description,
        toolType: 'custom',
        sourceType,
        sourceCode: input.sourceCode,
        jsonSchema: definition.jsonSchema as Prisma.InputJsonObject,
        createdById: actor.userId,
        lastUpdatedById: actor.userId,
      },
    });
  } catch (error) {
    throw duplicateName(error, definition);
  }
}

/** Creates a custom tool; an existing name in the organization is a CONFLICT (upsertTool replaces instead). */
export async function createTool(db: PrismaClient, actor: Actor, input: ToolInput): Promise<Tool> {
  const { definition, sourceType } = await defineNew(input);
  return insertTool(db, actor, input, sourceType, definition);
}

/**
 * Creates the tool, or replaces the source, schema and given fields of the organization's tool with the same name,
 * keeping its id (Letta's `PUT /v1/tools`, and `POST` since 0.12).
 */
export async function upsertTool(db: PrismaClient, actor: Actor, input: ToolInput): Promise<{ tool: Tool; created: boolean }> {
  const { definition, sourceType } = await defineNew(input);
  let existing = await db.tool.findFirst({ where: { name: definition.name } });
  if (!existing) {
    try {
      return { tool: await insertTool(db, actor, input, sourceType, definition), created: true };
    } catch (error) {
      // A concurrent upsert created it first: update that one instead.
      if (!(error instanceof AppError && error.code === 'CONFLICT')) throw error;
      existing = await db.tool.findFirstOrThrow({ where: { name: definition.name } });
    }
  }
  const columns = plainColumns(input);
  const description = columns.description ?? definition.description;
  const data: Prisma.ToolUpdateInput = {
    ...columns,
    ...(description !== null ? { description } : {}),
    sourceType,
    sourceCode: input.sourceCode,
    jsonSchema: definition.jsonSchema as Prisma.InputJsonObject,
    // The schema is replaced as a whole: an args schema left out must not linger to shape later derivations.
    ...(columns.argsJsonSchema === undefined && existing.argsJsonSchema !== null ? { argsJsonSchema: Prisma.DbNull } : {}),
  };
  return { tool: await writeChanges(db, actor, existing, data, definition), created: false };
}

/**
 * Applies the fields present and non-null. New source code (or a new source type) re-derives the schema of a
 * Python tool, whose function must keep the tool's name: only a new `jsonSchema` renames a tool, and then new
 * source must define the new name. When the schema changes and no description is given, the description follows
 * the schema's. Built-in tools keep their schema: only description, tags, returnCharLimit and metadata change.
 */
export async function updateTool(db: PrismaClient, actor: Actor, id: string, patch: ToolPatch): Promise<Tool> {
  const tool = await getTool(db, id);
  const columns = plainColumns(patch);
  const currentType = tool.sourceType ?? 'python';
  const sourceType = patch.sourceType != null ? checkSourceType(patch.sourceType) : currentType;
  const sourceCode = patch.sourceCode ?? tool.sourceCode ?? '';
  const sourceChanged = patch.sourceCode != null || sourceType !== currentType;
  const redefine = patch.jsonSchema != null || patch.argsJsonSchema != null || (sourceChanged && sourceType === 'python');
  if (isBaseTool(tool) && (sourceChanged || patch.jsonSchema != null || patch.argsJsonSchema != null)) {
    throw forbidden(`${tool.name} is a built-in tool: its source and schema cannot be changed`);
  }

  const data: Prisma.ToolUpdateInput = { ...columns };
  if (sourceChanged) Object.assign(data, { sourceType, sourceCode });
  let definition: Definition | undefined;
  if (redefine) {
    definition = await define(sourceType, sourceCode, patch.jsonSchema, patch.argsJsonSchema ?? tool.argsJsonSchema);
    if (definition.nameField === 'jsonSchema.name' && sourceChanged) await requireFunction(sourceType, sourceCode, definition.name);
    if (definition.name !== tool.name) {
      if (definition.nameField === 'sourceCode') {
        throw badInput(
          `sourceCode must define the function "${tool.name}" as its last top-level function, not "${definition.name}"; ` +
            'to rename the tool, send a jsonSchema with the new name',
          'sourceCode',
        );
      }
      requireCustomName(definition);
      data.name = definition.name;
    }
    data.jsonSchema = definition.jsonSchema as Prisma.InputJsonObject;
    const description = columns.description ?? definition.description;
    if (description !== null) data.description = description;
  }
  return writeChanges(db, actor, tool, data, definition);
}

/** Writes only what differs from `tool` (nothing at all when nothing does), mapping a taken name to CONFLICT. */
async function writeChanges(db: PrismaClient, actor: Actor, tool: Tool, data: Prisma.ToolUpdateInput, definition?: Definition): Promise<Tool> {
  const changes = Object.fromEntries(
    // Deep equality ignores key order, which jsonb does not keep.
    Object.entries(data).filter(([key, value]) => !isDeepStrictEqual(value, tool[key as keyof Tool])),
  );
  if (Object.keys(changes).length === 0) return tool;
  try {
    return await db.tool.update({ where: { id: tool.id }, data: { ...changes, lastUpdatedById: actor.userId } });
  } catch (error) {
    throw definition ? duplicateName(error, definition) : error;
  }
}

/** Deletes a custom tool; agents using it lose it (their links cascade). Built-in tools cannot be deleted. */
export async function deleteTool(db: PrismaClient, id: string): Promise<Tool> {
  const tool = await getTool(db, id);
  if (isBaseTool(tool)) throw forbidden(`${tool.name} is a built-in tool and cannot be deleted; detach it from agents instead`);
  await db.tool.delete({ where: { id } });
  return tool;
}
