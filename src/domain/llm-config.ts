import { badInput } from '../core/errors.js';

/**
 * Letta's LLMConfig for a model handle (`provider/model`), as Letta fills an agent's `llm_config` when it is made
 * with `model` alone. Quarry runs no model, so nothing here is called: the configuration is what an agent runtime
 * reading the agent needs (endpoint type, endpoint, context window, handle), and the context window sets the
 * agent's file limits (defaultFileLimits in agents.ts), as in Letta. Stored in Letta's snake_case shape, as REST
 * clients send it.
 */

interface LlmProvider {
  /** Letta's `model_endpoint_type`. */
  endpointType: string;
  /** The provider's public API, or null where it depends on the deployment (Azure, Bedrock, local servers). */
  endpoint: string | null;
}

/** Letta's providers by handle prefix. */
const PROVIDERS: Record<string, LlmProvider> = {
  openai: { endpointType: 'openai', endpoint: 'https://api.openai.com/v1' },
  anthropic: { endpointType: 'anthropic', endpoint: 'https://api.anthropic.com/v1' },
  google_ai: { endpointType: 'google_ai', endpoint: 'https://generativelanguage.googleapis.com' },
  google_vertex: { endpointType: 'google_vertex', endpoint: null },
  azure: { endpointType: 'azure', endpoint: null },
  bedrock: { endpointType: 'bedrock', endpoint: null },
  groq: { endpointType: 'groq', endpoint: 'https://api.groq.com/openai/v1' },
  mistral: { endpointType: 'mistral', endpoint: 'https://api.mistral.ai/v1' },
  together: { endpointType: 'together', endpoint: 'https://api.together.ai/v1' },
  deepseek: { endpointType: 'deepseek', endpoint: 'https://api.deepseek.com/v1' },
  xai: { endpointType: 'xai', endpoint: 'https://api.x.ai/v1' },
  openrouter: { endpointType: 'openrouter', endpoint: 'https://openrouter.ai/api/v1' },
  ollama: { endpointType: 'ollama', endpoint: null },
  lmstudio: { endpointType: 'lmstudio', endpoint: null },
  vllm: { endpointType: 'vllm', endpoint: null },
  letta: { endpointType: 'openai', endpoint: 'https://inference.letta.com' },
};

/** Context windows (tokens) of well-known model families by name prefix: the first match wins, so narrower prefixes come first. */
const CONTEXT_WINDOWS: [prefix: string, tokens: number][] = [
  ['gpt-4.1', 1_047_576],
  ['gpt-4o', 128_000],
  ['gpt-4-turbo', 128_000],
  ['gpt-4', 8_192],
  ['gpt-3.5-turbo', 16_385],
  ['o1', 200_000],
  ['o3', 200_000],
  ['o4-mini', 200_000],
  ['claude-', 200_000],
  ['gemini-1.5', 1_048_576],
  ['gemini-2', 1_048_576],
];

/** For a model Quarry has no figure for; a caller who knows better sends llm_config.context_window. */
export const DEFAULT_CONTEXT_WINDOW = 32_000;

export const LLM_PROVIDERS = Object.keys(PROVIDERS);

function contextWindowFor(model: string): number {
  const name = model.slice(model.lastIndexOf('/') + 1).toLowerCase();
  const known = CONTEXT_WINDOWS.find(([prefix]) => name.startsWith(prefix));
  return known?.[1] ?? DEFAULT_CONTEXT_WINDOW;
}

/** The LLMConfig of a `provider/model` handle; a handle of another shape or provider is bad input. */
export function llmConfigFromHandle(handle: string, field = 'model'): Record<string, unknown> {
  const trimmed = handle.trim();
  const slash = trimmed.indexOf('/');
  const providerName = slash > 0 ? trimmed.slice(0, slash) : '';
  const model = slash > 0 ? trimmed.slice(slash + 1) : '';
  if (!providerName || !model) throw badInput(`Model handle "${handle}" must look like provider/model, e.g. openai/gpt-4o-mini`, field);
  const provider = PROVIDERS[providerName];
  if (!provider) throw badInput(`Unknown model provider "${providerName}" in handle "${handle}"; known: ${LLM_PROVIDERS.join(', ')}`, field);
  return {
    model,
    model_endpoint_type: provider.endpointType,
    model_endpoint: provider.endpoint,
    provider_name: providerName,
    context_window: contextWindowFor(model),
    handle: `${providerName}/${model}`,
  };
}
