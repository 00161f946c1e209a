import { builder } from './builder.js';

/** Tools agents call. */

export const Tool = builder.prismaNode('Tool', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    toolType: t.exposeString('toolType', { description: 'custom, letta_core, letta_memory_core, letta_files_core, …' }),
    sourceType: t.exposeString('sourceType', { nullable: true }),
    sourceCode: t.exposeString('sourceCode', { nullable: true }),
    jsonSchema: t.field({ type: 'JSON', nullable: true, resolve: (tool) => tool.jsonSchema }),
    argsJsonSchema: t.field({ type: 'JSON', nullable: true, resolve: (tool) => tool.argsJsonSchema }),
    returnCharLimit: t.exposeInt('returnCharLimit'),
    tags: t.exposeStringList('tags'),
    metadata: t.field({ type: 'JSONObject', nullable: true, resolve: (tool) => tool.metadata as Record<string, unknown> | null }),
    createdById: t.exposeString('createdById', { nullable: true }),
    lastUpdatedById: t.exposeString('lastUpdatedById', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});
