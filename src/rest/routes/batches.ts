import { z } from 'zod';
import { listBatchMessages } from '../../domain/batches.js';
import { route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe } from './common.js';
import * as messagesJson from '../json/messages.js';

/** The messages of a batch (`/v1/messages/batches/{batch_id}/messages`). */

export function batchRoutes(): Route[] {
  return ['/messages/batches/{batch_id}/messages', '/batch-runs/{batch_id}/messages'].map((path, i) =>
    route({
      method: 'GET',
      path,
      operationId: i === 0 ? 'list_batch_messages' : 'list_batch_run_messages',
      summary: 'The messages of a batch',
      description:
        'Default newest first, as Letta answers (the seed’s “oldest first” is not). `cursor` is the older name of `after`, `sort_descending` of ' +
        '`order`. ' +
        (i === 0 ? 'Letta’s path.' : 'The seed’s path, an alias.'),
      tags: ['messages'],
      params: z.object({ batch_id: idOf('job', 'The batch job’s id (job-<uuid4>).') }),
      query: z.object({
        limit: q.int(1, 1000).default(100),
        after: idOf('message').optional(),
        before: idOf('message').optional(),
        cursor: describe(idOf('message').optional(), 'Deprecated alias of after.'),
        order: z.enum(['asc', 'desc']).optional(),
        sort_descending: describe(q.bool().optional(), 'Deprecated alias of order (true = desc); wins when given.'),
        agent_id: describe(idOf('agent').optional(), 'Only this agent’s messages.'),
      }),
      response: messagesJson.LettaBatchMessages,
      handler: async ({ ctx, params, query }) => {
        const order = query.sort_descending !== undefined ? (query.sort_descending ? 'desc' : 'asc') : (query.order ?? 'desc');
        const messages = await listBatchMessages(ctx.db, params.batch_id, {
          after: query.after ?? query.cursor,
          before: query.before,
          limit: query.limit,
          order,
          agentId: query.agent_id,
        });
        return { messages: messages.map(messagesJson.message) };
      },
    }),
  );
}
