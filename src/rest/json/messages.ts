import { z } from 'zod';
import { named } from '../registry.js';
import { MESSAGE_ROLES } from '../../domain/batches.js';
import type * as db from '../../generated/prisma/client.js';
import { DateTime, JsonObject, Out, isoAt, nullable } from './common.js';

/**
 * Messages (of batches) in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

export const Message = named(
  'Message',
  z.object({
    id: z.string(),
    role: z.enum(MESSAGE_ROLES),
    content: z.array(JsonObject),
    agent_id: nullable(z.string()),
    model: nullable(z.string()),
    name: nullable(z.string()),
    tool_calls: nullable(z.array(JsonObject)),
    tool_call_id: nullable(z.string()),
    tool_returns: nullable(z.array(JsonObject)),
    step_id: nullable(z.string()),
    run_id: nullable(z.string()),
    otid: nullable(z.string()),
    group_id: nullable(z.string()),
    sender_id: nullable(z.string()),
    batch_item_id: nullable(z.string()),
    is_err: nullable(z.boolean()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
);

export const LettaBatchMessages = named('LettaBatchMessages', z.object({ messages: z.array(Message) }));

const objects = (value: unknown): Record<string, unknown>[] | null => (Array.isArray(value) ? (value as Record<string, unknown>[]) : null);

export function message(row: db.Message): Out<typeof Message> {
  return {
    id: row.id,
    role: row.role as Out<typeof Message>['role'],
    content: objects(row.content) ?? [],
    agent_id: row.agentId,
    model: row.model,
    name: row.name,
    tool_calls: objects(row.toolCalls),
    tool_call_id: row.toolCallId,
    tool_returns: objects(row.toolReturns),
    step_id: row.stepId,
    run_id: row.runId,
    otid: row.otid,
    group_id: row.groupId,
    sender_id: row.senderId,
    batch_item_id: row.batchItemId,
    is_err: row.isErr,
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}
