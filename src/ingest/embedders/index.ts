import type { EmbeddingConfig } from '../../domain/embedding-config.js';
import { LexicalEmbedder, lexicalModel } from './lexical.js';
import { OPENAI_DEFAULTS, OpenAIEmbedder, type OpenAIEmbedderOptions } from './openai.js';
import { EmbeddingError, type Embedder } from './types.js';

export { EmbeddingError, type Embedder } from './types.js';
export { LexicalEmbedder } from './lexical.js';
export { OpenAIEmbedder, type OpenAIEmbedderOptions } from './openai.js';

export interface EmbedderEnv {
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
}

/** Tuning for HTTP providers; what to call and how comes from the embedding config. */
export type EmbedderOptions = Omit<OpenAIEmbedderOptions, 'model' | 'dim' | 'apiKey' | 'baseUrl' | 'azure' | 'dimensions'>;

/**
 * The embedder for a source's embedding config. A config Quarry cannot run is an error, never a quiet switch to
 * another provider or model: a source's passages are embedded with its own config or not at all.
 */
export function createEmbedder(config: EmbeddingConfig, env: EmbedderEnv, options: EmbedderOptions = {}): Embedder {
  switch (config.endpointType) {
    case 'local':
      if (config.model !== lexicalModel(config.dim)) {
        throw misconfigured(
          `Local embedding model "${config.model}" with dim ${config.dim} does not exist; the local provider offers lexical-<dim>, e.g. lexical-384`,
        );
      }
      return new LexicalEmbedder(config.dim);
    case 'openai':
      return openAIEmbedder(config, env, options);
    default:
      throw misconfigured(`Embedding endpoint type "${config.endpointType}" has no provider in Quarry (available: local, openai)`);
  }
}

function openAIEmbedder(config: EmbeddingConfig, env: EmbedderEnv, options: EmbedderOptions): OpenAIEmbedder {
  if (!env.OPENAI_API_KEY) throw misconfigured(`Embedding model ${config.model} needs OPENAI_API_KEY, which this server does not have`);
  const azure = [config.azureEndpoint, config.azureDeployment, config.azureVersion];
  if (azure.some(Boolean) && !azure.every(Boolean)) {
    throw misconfigured('An Azure embedding config needs all of azureEndpoint, azureDeployment and azureVersion');
  }
  return new OpenAIEmbedder({
    ...options,
    model: config.model,
    dim: config.dim,
    apiKey: env.OPENAI_API_KEY,
    baseUrl: config.endpoint ?? env.OPENAI_BASE_URL ?? OPENAI_DEFAULTS.baseUrl,
    azure: config.azureEndpoint && config.azureDeployment && config.azureVersion
      ? { endpoint: config.azureEndpoint, deployment: config.azureDeployment, apiVersion: config.azureVersion }
      : undefined,
    // Only the text-embedding-3 family accepts `dimensions`; older models and most compatible servers reject it.
    dimensions: /^text-embedding-3-/.test(config.model) ? config.dim : undefined,
    // The config's batch_size (Letta's default 32, at most OpenAI's 2,048) is what the source asked for.
    maxInputsPerRequest: options.maxInputsPerRequest ?? config.batchSize,
  });
}

const misconfigured = (message: string) => new EmbeddingError(message, { retryable: false });
