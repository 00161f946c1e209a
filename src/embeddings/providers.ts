/**
 * The embedding providers Quarry can call, and the environment variables that configure each. Every remote
 * provider speaks OpenAI's embeddings API; they differ in where it lives and which key it takes. Each reads its
 * own variables (as its own SDK would), so a key for one is never sent to another.
 */
export interface ProviderSpec {
  /** Handle prefix: `<name>/<model>`. */
  name: string;
  /** Letta's `embedding_endpoint_type` for configs of this provider. */
  endpointType: string;
  description: string;
  /** Variable holding the API key. */
  keyVar?: string;
  /** Whether the provider refuses requests without a key (local servers usually take none). */
  keyRequired: boolean;
  /** Variable holding the API's base URL, and the URL used when it is unset (none: the variable is required). */
  baseVar?: string;
  defaultBase?: string;
  /** Models with a known dimension, usable by handle; others need a full embeddingConfig. */
  models: Record<string, number>;
}

export const LOCAL_PROVIDER: ProviderSpec = {
  name: 'local',
  endpointType: 'local',
  description: 'deterministic lexical (hashed bag-of-words) embedder, no network; not semantic',
  keyRequired: false,
  models: { 'lexical-384': 384 },
};

export const REMOTE_PROVIDERS: ProviderSpec[] = [
  {
    name: 'openai',
    endpointType: 'openai',
    description: 'OpenAI, or any OpenAI-compatible embeddings API at OPENAI_BASE_URL',
    keyVar: 'OPENAI_API_KEY',
    keyRequired: true,
    baseVar: 'OPENAI_BASE_URL',
    defaultBase: 'https://api.openai.com/v1',
    models: { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 },
  },
  {
    name: 'azure',
    endpointType: 'azure',
    description: 'Azure OpenAI: the model name is the deployment name (AZURE_OPENAI_API_VERSION, default 2024-10-21)',
    keyVar: 'AZURE_OPENAI_API_KEY',
    keyRequired: true,
    baseVar: 'AZURE_OPENAI_ENDPOINT',
    models: { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536 },
  },
  {
    name: 'ollama',
    endpointType: 'ollama',
    description: "Ollama's OpenAI-compatible API, e.g. OLLAMA_BASE_URL=http://localhost:11434/v1",
    keyRequired: false,
    baseVar: 'OLLAMA_BASE_URL',
    models: { 'nomic-embed-text': 768, 'mxbai-embed-large': 1024, 'all-minilm': 384, 'bge-m3': 1024 },
  },
  {
    name: 'vllm',
    endpointType: 'vllm',
    description: 'a vLLM server (VLLM_BASE_URL, e.g. http://localhost:8000/v1; VLLM_API_KEY if it asks for one)',
    keyVar: 'VLLM_API_KEY',
    keyRequired: false,
    baseVar: 'VLLM_BASE_URL',
    models: {},
  },
  {
    name: 'lmstudio',
    endpointType: 'lmstudio',
    description: 'LM Studio (LMSTUDIO_BASE_URL, e.g. http://localhost:1234/v1)',
    keyRequired: false,
    baseVar: 'LMSTUDIO_BASE_URL',
    models: { 'text-embedding-nomic-embed-text-v1.5': 768 },
  },
  {
    name: 'together',
    endpointType: 'together',
    description: 'Together AI',
    keyVar: 'TOGETHER_API_KEY',
    keyRequired: true,
    baseVar: 'TOGETHER_BASE_URL',
    defaultBase: 'https://api.together.xyz/v1',
    models: { 'BAAI/bge-large-en-v1.5': 1024, 'BAAI/bge-base-en-v1.5': 768, 'intfloat/multilingual-e5-large-instruct': 1024 },
  },
  {
    name: 'mistral',
    endpointType: 'mistral',
    description: 'Mistral AI',
    keyVar: 'MISTRAL_API_KEY',
    keyRequired: true,
    baseVar: 'MISTRAL_BASE_URL',
    defaultBase: 'https://api.mistral.ai/v1',
    models: { 'mistral-embed': 1024 },
  },
];

export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/** Every variable a provider reads; core/config.ts validates them and the README lists them. */
export const PROVIDER_VARIABLES = [
  ...new Set(REMOTE_PROVIDERS.flatMap((p) => [p.keyVar, p.baseVar]).filter((v): v is string => !!v)),
  'AZURE_OPENAI_API_VERSION',
] as const;

/** Where provider variables are read from: the parsed configuration (or any object holding them). */
export type ProviderEnv = object;

/** A provider variable's value, when set. */
export function envValue(env: ProviderEnv, name: string | undefined): string | undefined {
  const value = name ? (env as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value ? value : undefined;
}

export const providerByEndpointType = (endpointType: string): ProviderSpec | undefined =>
  endpointType === 'local' ? LOCAL_PROVIDER : REMOTE_PROVIDERS.find((p) => p.endpointType === endpointType);

/** Why a remote provider cannot be used with this environment, or null when it can. */
export function unavailableReason(spec: ProviderSpec, env: ProviderEnv): string | null {
  const missing: string[] = [];
  if (spec.keyRequired && spec.keyVar && !envValue(env, spec.keyVar)) missing.push(spec.keyVar);
  if (spec.baseVar && !spec.defaultBase && !envValue(env, spec.baseVar)) missing.push(spec.baseVar);
  return missing.length ? `set ${missing.join(' and ')}` : null;
}

/** The base URL a provider's requests go to. */
export const baseUrlOf = (spec: ProviderSpec, env: ProviderEnv): string | null => envValue(env, spec.baseVar) ?? spec.defaultBase ?? null;
