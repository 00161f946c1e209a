import { z } from 'zod';
import { named } from '../registry.js';
import { TOOL_TYPES } from '../../domain/tools.js';
import type * as db from '../../generated/prisma/client.js';
import { JsonObject, Out, nullable, object, opt } from './common.js';

/**
 * Tools in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

const Requirement = named('Requirement', z.object({ name: z.string().min(1), version: opt(z.string()) }), 'A package a tool needs: name and optional version.');

export const Tool = named(
  'Tool',
  z.object({
    id: z.string(),
    tool_type: z.enum(TOOL_TYPES),
    description: nullable(z.string()),
    source_type: nullable(z.string()),
    name: z.string(),
    tags: z.array(z.string()),
    source_code: nullable(z.string()),
    json_schema: nullable(JsonObject),
    args_json_schema: nullable(JsonObject),
    return_char_limit: z.number().int(),
    pip_requirements: nullable(z.array(z.unknown())),
    npm_requirements: nullable(z.array(z.unknown())),
    default_requires_approval: nullable(z.boolean()),
    enable_parallel_execution: nullable(z.boolean()),
    metadata_: nullable(JsonObject),
    project_id: nullable(z.string()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
  }),
  'A tool. The metadata key keeps Letta’s trailing underscore (`metadata_`).',
);

const toolFields = {
  source_type: opt(z.enum(['python', 'typescript', 'json'])),
  description: opt(z.string()),
  tags: opt(z.array(z.string())),
  json_schema: opt(JsonObject),
  args_json_schema: opt(JsonObject),
  return_char_limit: opt(z.number().int().min(1).max(1_000_000)),
  pip_requirements: opt(z.array(Requirement)),
  npm_requirements: opt(z.array(Requirement)),
  default_requires_approval: opt(z.boolean()),
  enable_parallel_execution: opt(z.boolean()),
};

export const ToolCreate = named(
  'ToolCreate',
  z.strictObject({ source_code: z.string(), ...toolFields }),
  'The name comes from `json_schema.name`, or else from the last function of the Python source, whose docstring gives the description and parameters.',
);

export const ToolUpdate = named(
  'ToolUpdate',
  z.object({ source_code: opt(z.string()), ...toolFields, metadata_: opt(JsonObject) }),
  'Fields left out or null keep their value; unknown fields are ignored, as Letta does.',
);

export function tool(row: db.Tool): Out<typeof Tool> {
  return {
    id: row.id,
    tool_type: row.toolType as Out<typeof Tool>['tool_type'],
    description: row.description,
    source_type: row.sourceType,
    name: row.name,
    tags: row.tags,
    source_code: row.sourceCode,
    json_schema: object(row.jsonSchema),
    args_json_schema: object(row.argsJsonSchema),
    return_char_limit: row.returnCharLimit,
    pip_requirements: Array.isArray(row.pipRequirements) ? row.pipRequirements : null,
    npm_requirements: Array.isArray(row.npmRequirements) ? row.npmRequirements : null,
    default_requires_approval: row.defaultRequiresApproval,
    enable_parallel_execution: row.enableParallelExecution,
    metadata_: object(row.metadata),
    project_id: row.projectId,
    created_by_id: row.createdById,
    last_updated_by_id: row.lastUpdatedById,
  };
}
