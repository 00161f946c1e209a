import { badInput } from '../core/errors.js';
import {
  AZURE_DEFAULT_API_VERSION,
  baseUrlOf,
  envValue,
  LOCAL_PROVIDER,
  PROVIDER_VARIABLES,
  REMOTE_PROVIDERS,
  unavailableReason,
  type ProviderEnv,
} from './providers.js';

/**
 * Embedding configurations: what a source's passages are embedded with. A source always uses its own
 * configuration; nothing ever substitutes another provider or model silently. Handles are Letta's
 * `provider/model` strings.
 */
export interface EmbeddingConfig {
  endpointType: string;
  endpoint: string | null;
  model: string;
  dim: number;
  chunkSize: number;
  handle: string | null;
  batchSize: number;
  azureEndpoint: string | null;
  azureVersion: string | null;
  azureDeployment: string | null;
}

export const DEFAULT_CHUNK_SIZE = 300;
export const CHUNK_SIZE_RANGE = [64, 8192] as const;
/** pgvector stores up to 16,000 dimensions (its HNSW index up to 2,000). */
export const DIM_RANGE = [1, 16000] as const;
export const BATCH_SIZE_RANGE = [1, 2048] as const;

/** How a create or update call names an embedding: a handle (with a chunk size), or a full configuration. */
export interface EmbeddingChoice {
  embedding?: string | null;
  embeddingChunkSize?: number | null;
  embeddingConfig?: EmbeddingConfigInput | null;
}

/** A configuration as a caller gives it: the three essentials, anything else optional. */
export type EmbeddingConfigInput = { endpointType: string; model: string; dim: number } & {
  [K in Exclude<keyof EmbeddingConfig, 'endpointType' | 'model' | 'dim'>]?: EmbeddingConfig[K] | null;
};

interface Provider {
  /** Letta's embedding_endpoint_type for configs built from this provider. */
  endpointType: string;
  description: string;
  models: Record<string, number>;
  endpoint: string | null;
  /** Why it cannot be used, or null when it can. */
  unavailable: string | null;
}

/** DEFAULT_EMBEDDING plus the providers' variables (embedding-providers.ts). */
export type ProviderSettings = { DEFAULT_EMBEDDING: string; readonly [variable: string]: unknown };

export class EmbeddingCatalog {
  private readonly providers: Record<string, Provider>;

  constructor(private readonly settings: ProviderSettings) {
    const local = LOCAL_PROVIDER;
    this.providers = {
      local: { endpointType: local.endpointType, description: local.description, models: local.models, endpoint: null, unavailable: null },
    };
    for (const spec of REMOTE_PROVIDERS) {
      this.providers[spec.name] = {
        endpointType: spec.endpointType,
        description: spec.description,
        models: spec.models,
        endpoint: baseUrlOf(spec, settings),
        unavailable: unavailableReason(spec, settings),
      };
    }
  }

  /** What embedders need from the environment (provider keys and URLs). */
  get env(): ProviderEnv {
    return Object.fromEntries(PROVIDER_VARIABLES.map((v) => [v, envValue(this.settings, v)]));
  }

  get defaultHandle(): string {
    return this.settings.DEFAULT_EMBEDDING;
  }

  /** Builds the configuration for a `provider/model` handle. */
  fromHandle(handle: string, chunkSize: number = DEFAULT_CHUNK_SIZE, field = 'embedding'): EmbeddingConfig {
    const slash = handle.indexOf('/');
    const providerName = slash > 0 ? handle.slice(0, slash) : '';
    const model = slash > 0 ? handle.slice(slash + 1) : '';
    if (!providerName || !model) throw badInput(`Embedding handle "${handle}" must look like provider/model, e.g. local/lexical-384`, field);
    const provider = this.provider(providerName, field);
    const dim = provider.models[model];
    if (!dim) {
      throw badInput(
        `Embedding model ${handle} not found. ${providerName} models: ${Object.keys(provider.models).join(', ')}` +
          ` (another model needs a full embeddingConfig with its dimension)`,
        field,
      );
    }
    checkRange(chunkSize, CHUNK_SIZE_RANGE, field === 'embedding' ? 'embeddingChunkSize' : `${field}.chunkSize`);
    return {
      endpointType: provider.endpointType,
      endpoint: provider.endpoint,
      model,
      dim,
      chunkSize,
      handle: `${providerName}/${model}`,
      batchSize: defaultBatchSize(provider.endpointType),
      // Azure: the model named in the handle is the deployment; endpoint and version come from the environment.
      azureEndpoint: provider.endpointType === 'azure' ? provider.endpoint : null,
      azureVersion: provider.endpointType === 'azure' ? (envValue(this.settings, 'AZURE_OPENAI_API_VERSION') ?? AZURE_DEFAULT_API_VERSION) : null,
      azureDeployment: provider.endpointType === 'azure' ? model : null,
    };
  }

  /** Validates a full configuration given by the caller and fills defaults. */
  fromConfig(input: EmbeddingConfigInput, field = 'embeddingConfig'): EmbeddingConfig {
    const providerName = Object.keys(this.providers).find((p) => this.providers[p].endpointType === input.endpointType);
    if (!providerName) {
      throw badInput(
        `Embedding endpoint type "${input.endpointType}" is not one Quarry can run; available: ${Object.values(this.providers).map((p) => p.endpointType).join(', ')}`,
        `${field}.endpointType`,
      );
    }
    const provider = this.provider(providerName, `${field}.endpointType`);
    if (!input.model.trim()) throw badInput('model must not be empty', `${field}.model`);
    checkRange(input.dim, DIM_RANGE, `${field}.dim`);
    const known = provider.models[input.model];
    if (known && known !== input.dim) throw badInput(`${input.model} has ${known} dimensions, not ${input.dim}`, `${field}.dim`);
    const chunkSize = input.chunkSize ?? DEFAULT_CHUNK_SIZE;
    checkRange(chunkSize, CHUNK_SIZE_RANGE, `${field}.chunkSize`);
    const batchSize = input.batchSize ?? defaultBatchSize(input.endpointType);
    checkRange(batchSize, BATCH_SIZE_RANGE, `${field}.batchSize`);
    // The server calls only endpoints its operator configured (with the operator's key): a caller may repeat the
    // configured URL, as Letta's clients do, but never name another one (an internal address, their own server).
    if (input.endpoint != null && !sameEndpoint.equal(input.endpoint, provider.endpoint)) {
      throw badInput(`endpoint must be the one this server is configured with for ${providerName}, or left out`, `${field}.endpoint`);
    }
    if (input.azureEndpoint != null && !(input.endpointType === 'azure' && sameEndpoint.equal(input.azureEndpoint, provider.endpoint))) {
      throw badInput(`azureEndpoint must be the one this server is configured with (AZURE_OPENAI_ENDPOINT), or left out`, `${field}.azureEndpoint`);
    }
    return {
      endpointType: input.endpointType,
      endpoint: provider.endpoint,
      model: input.model,
      dim: input.dim,
      chunkSize,
      handle: input.handle ?? `${providerName}/${input.model}`,
      batchSize,
      azureEndpoint: input.azureEndpoint == null ? null : provider.endpoint,
      azureVersion: input.azureVersion ?? null,
      azureDeployment: input.azureDeployment ?? null,
    };
  }

  /** What a create call resolves to: a full config wins, then a handle, then the server's default. */
  resolve(input: EmbeddingChoice): EmbeddingConfig {
    if (input.embeddingConfig) return this.fromConfig(input.embeddingConfig);
    if (input.embedding) return this.fromHandle(input.embedding, input.embeddingChunkSize ?? DEFAULT_CHUNK_SIZE);
    return this.fromHandle(this.defaultHandle, input.embeddingChunkSize ?? DEFAULT_CHUNK_SIZE, 'DEFAULT_EMBEDDING');
  }

  /**
   * What an update of a source configured with `current` asks for, from what a create call takes: a full config
   * wins, then a handle (with the current chunk size unless one is given), then a chunk size alone; null when the
   * input names no embedding (it keeps its own).
   */
  update(current: EmbeddingConfig, input: EmbeddingChoice, fields: { chunkSize?: string } = {}): EmbeddingConfig | null {
    if (input.embeddingConfig) return this.fromConfig(input.embeddingConfig);
    if (input.embedding) return this.fromHandle(input.embedding, input.embeddingChunkSize ?? current.chunkSize);
    if (input.embeddingChunkSize == null) return null;
    checkRange(input.embeddingChunkSize, CHUNK_SIZE_RANGE, fields.chunkSize ?? 'embeddingChunkSize');
    return { ...current, chunkSize: input.embeddingChunkSize };
  }

  /** Providers and whether each can be used, for discovery. */
  list() {
    return Object.entries(this.providers).map(([name, p]) => ({
      name,
      description: p.description,
      configured: p.unavailable === null,
      models: Object.entries(p.models).map(([model, dim]) => ({ handle: `${name}/${model}`, dim })),
    }));
  }

  private provider(name: string, field: string): Provider {
    const provider = this.providers[name];
    if (!provider) throw badInput(`Unknown embedding provider "${name}"; available: ${Object.keys(this.providers).join(', ')}`, field);
    if (provider.unavailable) throw badInput(`Embedding provider "${name}" is not configured on this server: ${provider.unavailable}`, field);
    return provider;
  }
}

function checkRange(value: number, [min, max]: readonly [number, number], field: string) {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(`${field} must be an integer from ${min} to ${max}`, field);
}

/**
 * Inputs per embeddings request unless a config says otherwise: OpenAI's limit (2,048) for HTTP providers, so
 * a file of 1,000 chunks costs one or two requests (the token limit splits further), not 32 of Letta's 32-input
 * batches; a config may set a smaller batchSize for servers with lower limits.
 */
export function defaultBatchSize(endpointType: string): number {
  return endpointType === 'local' ? 32 : BATCH_SIZE_RANGE[1];
}

/** Reads a stored configuration (JSON column) back into its type. */
export function asEmbeddingConfig(json: unknown): EmbeddingConfig {
  return json as EmbeddingConfig;
}

/** Endpoint URLs compare without a trailing slash (`…/v1/` is `…/v1`). */
export const sameEndpoint = {
  normalize: (url: string) => url.trim().replace(/\/+$/, ''),
  equal: (a: string | null, b: string | null) => (a === null || b === null ? a === b : sameEndpoint.normalize(a) === sameEndpoint.normalize(b)),
};

export function sameEmbedding(a: EmbeddingConfig, b: EmbeddingConfig): boolean {
  return a.endpointType === b.endpointType && a.model === b.model && a.dim === b.dim && a.endpoint === b.endpoint;
}
