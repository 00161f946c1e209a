import { z } from 'zod';
import { named } from '../registry.js';
import type { EmbeddingConfigInput as DomainEmbeddingInput } from '../../embeddings/config.js';
import { Out, nullable, object, opt } from './common.js';

/**
 * Embedding configurations and models in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

/** Letta's endpoint types, plus Quarry's own `local` (the built-in lexical embedder). */
export const EMBEDDING_ENDPOINT_TYPES = [
  'openai', 'anthropic', 'bedrock', 'google_ai', 'google_vertex', 'azure', 'groq', 'ollama', 'webui', 'webui-legacy',
  'lmstudio', 'lmstudio-legacy', 'llamacpp', 'koboldcpp', 'vllm', 'hugging-face', 'mistral', 'together', 'pinecone', 'local',
] as const;

export const EmbeddingConfig = named(
  'EmbeddingConfig',
  z.object({
    embedding_endpoint_type: z.string(),
    embedding_endpoint: nullable(z.string()),
    embedding_model: z.string(),
    embedding_dim: z.number().int(),
    embedding_chunk_size: nullable(z.number().int()),
    handle: nullable(z.string()),
    batch_size: z.number().int(),
    azure_endpoint: nullable(z.string()),
    azure_version: nullable(z.string()),
    azure_deployment: nullable(z.string()),
  }),
  'How a source’s passages are embedded. Quarry runs `openai` (when configured) and `local` endpoint types.',
);

export const EmbeddingConfigInput = named(
  'EmbeddingConfigInput',
  z.object({
    embedding_endpoint_type: z.enum(EMBEDDING_ENDPOINT_TYPES),
    embedding_endpoint: opt(z.string()),
    embedding_model: z.string().min(1),
    embedding_dim: z.number().int().min(1),
    embedding_chunk_size: opt(z.number().int()),
    handle: opt(z.string()),
    batch_size: opt(z.number().int()),
    azure_endpoint: opt(z.string()),
    azure_version: opt(z.string()),
    azure_deployment: opt(z.string()),
  }),
  'A full embedding configuration (Letta’s legacy `embedding_config`); unknown fields are ignored, as Letta does.',
);

export const EmbeddingModel = named(
  'EmbeddingModel',
  z.object({
    handle: z.string(),
    name: z.string(),
    display_name: z.string(),
    provider_name: z.string(),
    provider_type: z.string(),
    model_type: z.literal('embedding'),
    embedding_endpoint_type: z.string(),
    embedding_endpoint: nullable(z.string()),
    embedding_model: z.string(),
    embedding_dim: z.number().int(),
    embedding_chunk_size: nullable(z.number().int()),
    batch_size: z.number().int(),
    azure_endpoint: nullable(z.string()),
    azure_version: nullable(z.string()),
    azure_deployment: nullable(z.string()),
  }),
  'An embedding model a source can be made with: pass its `handle` as `embedding`. The Letta EmbeddingConfig fields are what the source gets.',
);

/**
 * A stored configuration in Letta's shape. Sources store Quarry's camelCase EmbeddingConfig; an agent's may hold
 * whatever a client sent, so Letta's own snake_case form is accepted as stored too.
 */
export function embeddingConfig(stored: unknown): Out<typeof EmbeddingConfig> | null {
  const c = object(stored);
  if (!c) return null;
  const pick = (snake: string, camel: string) => (c[snake] ?? c[camel] ?? null) as never;
  return {
    embedding_endpoint_type: pick('embedding_endpoint_type', 'endpointType'),
    embedding_endpoint: pick('embedding_endpoint', 'endpoint'),
    embedding_model: pick('embedding_model', 'model'),
    embedding_dim: pick('embedding_dim', 'dim'),
    embedding_chunk_size: pick('embedding_chunk_size', 'chunkSize'),
    handle: pick('handle', 'handle'),
    batch_size: (c.batch_size ?? c.batchSize ?? 32) as number,
    azure_endpoint: pick('azure_endpoint', 'azureEndpoint'),
    azure_version: pick('azure_version', 'azureVersion'),
    azure_deployment: pick('azure_deployment', 'azureDeployment'),
  };
}

/** Letta's `embedding_config` request object as the domain's input. */
export function embeddingInput(config: Out<typeof EmbeddingConfigInput> | null | undefined): DomainEmbeddingInput | null {
  if (!config) return null;
  return {
    endpointType: config.embedding_endpoint_type,
    model: config.embedding_model,
    dim: config.embedding_dim,
    endpoint: config.embedding_endpoint,
    chunkSize: config.embedding_chunk_size,
    handle: config.handle,
    batchSize: config.batch_size,
    azureEndpoint: config.azure_endpoint,
    azureVersion: config.azure_version,
    azureDeployment: config.azure_deployment,
  };
}
