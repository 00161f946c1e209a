import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTEXT_WINDOW, llmConfigFromHandle } from '../src/domain/llm-config.js';

describe('llmConfigFromHandle', () => {
  it('fills Letta’s LLMConfig from a provider/model handle', () => {
    expect(llmConfigFromHandle('openai/gpt-4o-mini')).toEqual({
      model: 'gpt-4o-mini',
      model_endpoint_type: 'openai',
      model_endpoint: 'https://api.openai.com/v1',
      provider_name: 'openai',
      context_window: 128_000,
      handle: 'openai/gpt-4o-mini',
    });
    // The narrower prefix wins (gpt-4.1 over gpt-4); models may hold slashes of their own.
    expect(llmConfigFromHandle('openai/gpt-4.1-mini').context_window).toBe(1_047_576);
    expect(llmConfigFromHandle('openai/gpt-4').context_window).toBe(8_192);
    expect(llmConfigFromHandle('together/meta-llama/Llama-3-70b')).toMatchObject({ model: 'meta-llama/Llama-3-70b', model_endpoint_type: 'together' });
    expect(llmConfigFromHandle('ollama/qwen3:8b')).toMatchObject({ model_endpoint: null, context_window: DEFAULT_CONTEXT_WINDOW });
    expect(llmConfigFromHandle('letta/letta-free')).toMatchObject({ model_endpoint_type: 'openai', provider_name: 'letta' });
  });

  it('refuses handles of another shape or an unknown provider', () => {
    for (const handle of ['gpt-4o', '/gpt-4o', 'openai/', '']) {
      expect(() => llmConfigFromHandle(handle)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'model' } }));
    }
    expect(() => llmConfigFromHandle('nowhere/model')).toThrow(/Unknown model provider "nowhere"/);
  });
});
