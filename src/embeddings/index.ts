import { sameEndpoint, type EmbeddingConfig } from './config.js';
import { LexicalEmbedder, lexicalModel } from './lexical.js';
import { baseUrlOf, envValue, providerByEndpointType, REMOTE_PROVIDERS, type ProviderEnv, type ProviderSpec } from './providers.js';
import { OpenAIEmbedder, type OpenAIEmbedderOptions } from './openai.js';
import { EmbeddingError, type Embedder } from './types.js';
import type { EmbeddingObserver } from '../core/metrics.js';

export { EmbeddingError, type Embedder } from './types.js';
export { LexicalEmbedder } from './lexical.js';
export { OpenAIEmbedder, type OpenAIEmbedderOptions } from './openai.js';

/** The providers' variables (keys, base URLs), as the catalog reads them from the configuration. */
export type EmbedderEnv = ProviderEnv;

/**
 * Tuning for HTTP providers (what to call and how comes from the embedding config), and `observer`, which gets a
 * provider's name and returns what that provider's requests are reported to (metrics).
 */
export type EmbedderOptions = Omit<OpenAIEmbedderOptions, 'model' | 'dim' | 'apiKey' | 'baseUrl' | 'azure' | 'dimensions' | 'onRequest'> & {
  observer?: (provider: string) => EmbeddingObserver;
};

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
    default: {
      const spec = providerByEndpointType(config.endpointType);
      if (!spec) {
        throw misconfigured(
          `Embedding endpoint type "${config.endpointType}" has no provider in Quarry (available: local, ${REMOTE_PROVIDERS.map((p) => p.endpointType).join(', ')})`,
        );
      }
      return remoteEmbedder(spec, config, env, options);
    }
  }
}

/**
 * The embedders of a process: the providers' variables, the tuning, and where each request to a remote provider is
 * reported (metrics). What embeds outside the ingestion pipeline (a search embedding its query text) builds its
 * embedders here, so its requests are counted and tuned as the pipeline's are.
 */
export class Embedders {
  constructor(
    readonly env: EmbedderEnv,
    private readonly options: EmbedderOptions = {},
  ) {}

  for(config: EmbeddingConfig): Embedder {
    return createEmbedder(config, this.env, this.options);
  }
}

/** Every remote provider speaks OpenAI's embeddings API; what differs is where, with which key. */
function remoteEmbedder(spec: ProviderSpec, config: EmbeddingConfig, env: EmbedderEnv, options: EmbedderOptions): OpenAIEmbedder {
  const apiKey = envValue(env, spec.keyVar);
  if (spec.keyRequired && !apiKey) throw misconfigured(`Embedding model ${config.model} (${spec.name}) needs ${spec.keyVar}, which this server does not have`);
  const azure = [config.azureEndpoint, config.azureDeployment, config.azureVersion];
  if ((spec.endpointType === 'azure' || azure.some(Boolean)) && !azure.every(Boolean)) {
    throw misconfigured('An Azure embedding config needs all of azureEndpoint, azureDeployment and azureVersion');
  }
  const configured = baseUrlOf(spec, env);
  // Only the operator's endpoints are called (a stored config may predate that rule, or the variable changed).
  for (const endpoint of [config.endpoint, config.azureEndpoint]) {
    if (endpoint != null && !sameEndpoint.equal(endpoint, configured)) {
      throw misconfigured(`Embedding endpoint ${endpoint} is not the one this server is configured with for ${spec.name} (${spec.baseVar})`);
    }
  }
  const baseUrl = configured;
  if (!baseUrl && !config.azureEndpoint) throw misconfigured(`Embedding model ${config.model} (${spec.name}) needs ${spec.baseVar}, which this server does not have`);
  const { observer, ...tuning } = options;
  return new OpenAIEmbedder({
    ...tuning,
    onRequest: observer?.(spec.endpointType),
    model: config.model,
    dim: config.dim,
    apiKey: apiKey ?? '',
    baseUrl: baseUrl ?? undefined,
    azure: config.azureEndpoint && config.azureDeployment && config.azureVersion
      ? { endpoint: config.azureEndpoint, deployment: config.azureDeployment, apiVersion: config.azureVersion }
      : undefined,
    // Only the text-embedding-3 family accepts `dimensions`; older models and most compatible servers reject it.
    dimensions: /^text-embedding-3-/.test(config.model) ? config.dim : undefined,
    // The config's batch size (by default the provider's limit, 2,048) is what the source asked for.
    maxInputsPerRequest: options.maxInputsPerRequest ?? config.batchSize,
  });
}

const misconfigured = (message: string) => new EmbeddingError(message, { retryable: false });
