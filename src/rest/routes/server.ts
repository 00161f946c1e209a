import { z } from 'zod';
import { QUARRY_VERSION } from '../../core/version.js';
import { LLM_PROVIDERS } from '../../domain/llm-config.js';
import { publicRoute, Reply, route, type Route } from '../route.js';
import { idOf } from '../validation.js';
import * as commonJson from '../json/common.js';
import * as embeddingsJson from '../json/embeddings.js';

/**
 * The server itself: Letta's health check and the embedding models a user can pick; and the routes of Letta's
 * current client that Quarry does not serve, answered 501 with a `detail` saying why (and `x-should-retry: false`,
 * so the client does not retry them as it retries other 5xx answers).
 */

/** Letta's providers' type for each of Quarry's embedding endpoint types, where the names differ. */
const PROVIDER_TYPES: Record<string, string> = { lmstudio: 'lmstudio_openai' };

/** A Letta route Quarry does not serve, and why. */
interface Unsupported {
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  operationId: string;
  tags: string[];
  params?: z.ZodObject<Record<string, z.ZodString>>;
  why: string;
}

const NO_RUNTIME = 'Quarry keeps agents’ configuration, sources, tools and the runs their runtimes report; it does not run agents.';
const agentParams = z.object({ agent_id: idOf('agent') });
const runParams = z.object({ run_id: idOf('run') });

const UNSUPPORTED: Unsupported[] = [
  {
    method: 'POST',
    path: '/tools/search',
    operationId: 'search_tools',
    tags: ['tools'],
    why: 'Tool search ranks tools by embeddings of their descriptions, which Quarry does not keep. List tools with `GET /v1/tools?search=<part of the name>` instead.',
  },
  { method: 'POST', path: '/agents/import', operationId: 'import_agent', tags: ['agents'], why: 'Quarry does not import agent files (.af).' },
  { method: 'GET', path: '/agents/{agent_id}/export', operationId: 'export_agent', tags: ['agents'], params: agentParams, why: 'Quarry does not export agent files (.af).' },
  { method: 'GET', path: '/agents/{agent_id}/messages', operationId: 'list_messages', tags: ['agents'], params: agentParams, why: NO_RUNTIME },
  { method: 'POST', path: '/agents/{agent_id}/messages', operationId: 'send_message', tags: ['agents'], params: agentParams, why: NO_RUNTIME },
  { method: 'POST', path: '/agents/{agent_id}/messages/stream', operationId: 'create_agent_message_stream', tags: ['agents'], params: agentParams, why: NO_RUNTIME },
  { method: 'POST', path: '/agents/{agent_id}/messages/async', operationId: 'create_agent_message_async', tags: ['agents'], params: agentParams, why: NO_RUNTIME },
  { method: 'GET', path: '/runs/{run_id}/messages', operationId: 'list_run_messages', tags: ['runs'], params: runParams, why: NO_RUNTIME },
  { method: 'POST', path: '/runs/{run_id}/stream', operationId: 'retrieve_stream', tags: ['runs'], params: runParams, why: NO_RUNTIME },
  {
    method: 'GET',
    path: '/models',
    operationId: 'list_models',
    tags: ['models'],
    why: `Quarry runs no language model. An agent’s \`model\` may be any provider/model handle of a provider Letta knows (${LLM_PROVIDERS.join(', ')}).`,
  },
];

function unsupportedRoute(u: Unsupported): Route {
  return route({
    method: u.method,
    path: u.path,
    operationId: u.operationId,
    summary: 'Not served by Quarry (501)',
    description: u.why,
    tags: u.tags,
    params: u.params,
    status: 501,
    response: commonJson.ErrorDetail,
    responseDescription: 'Always: this Letta route is not served by Quarry.',
    handler: async () => new Reply({ detail: `${u.method} /v1${u.path} is not implemented by this server. ${u.why}` }, 501, { 'x-should-retry': 'false' }),
  });
}

export function serverRoutes(): Route[] {
  return [
    publicRoute({
      method: 'GET',
      path: '/health',
      operationId: 'check_health',
      summary: 'Health check',
      description: 'Letta’s health route: answers without a key. `version` is Quarry’s. (`/readyz` also checks the database.)',
      tags: ['health'],
      response: commonJson.Health,
      handler: async () => ({ version: QUARRY_VERSION, status: 'ok' }),
    }),
    route({
      method: 'GET',
      path: '/models/embedding',
      operationId: 'list_embedding_models',
      summary: 'The embedding models this server can use now',
      description:
        'Every `provider/model` handle of a provider configured on this server, with the configuration a source made with it gets. ' +
        'Quarry’s own `local` provider (a lexical embedder, no network) is always there; models of a configured provider not listed here ' +
        'need a full `embedding_config`.',
      tags: ['models'],
      response: z.array(embeddingsJson.EmbeddingModel),
      handler: async ({ ctx }) =>
        ctx.embeddings
          .list()
          .filter((provider) => provider.configured)
          .flatMap((provider) =>
            provider.models.map((model) => {
              const config = embeddingsJson.embeddingConfig(ctx.embeddings.fromHandle(model.handle))!;
              return {
                ...config,
                handle: model.handle,
                name: config.embedding_model,
                display_name: config.embedding_model,
                provider_name: provider.name,
                provider_type: PROVIDER_TYPES[config.embedding_endpoint_type] ?? config.embedding_endpoint_type,
                model_type: 'embedding' as const,
              };
            }),
          ),
    }),
  ];
}

/** Declared before the routes whose `{id}` they would otherwise fall on. */
export function unsupportedRoutes(): Route[] {
  return UNSUPPORTED.map(unsupportedRoute);
}
