import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddingCatalog } from '../src/embeddings/config.js';
import { createEmbedder } from '../src/embeddings/index.js';
import { FakeOpenAI } from './support/fake-openai.js';

/** Every OpenAI-compatible provider reads its own variables and sends its own key, to its own server. */
describe('embedding providers', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(() => fake.close());

  it('lists each provider as configured only when its variables are set, and refuses the others by name', () => {
    const catalog = new EmbeddingCatalog({ DEFAULT_EMBEDDING: 'local/lexical-384', MISTRAL_API_KEY: 'mk', OLLAMA_BASE_URL: fake.url });
    const configured = Object.fromEntries(catalog.list().map((p) => [p.name, p.configured]));
    expect(configured).toEqual({ local: true, openai: false, azure: false, ollama: true, vllm: false, lmstudio: false, together: false, mistral: true });
    expect(() => catalog.fromHandle('together/BAAI/bge-large-en-v1.5')).toThrow(/"together" is not configured on this server: set TOGETHER_API_KEY/);
    expect(() => catalog.fromHandle('vllm/any-model')).toThrow(/set VLLM_BASE_URL/);
    expect(() => catalog.fromHandle('cohere/embed-v3')).toThrow(/Unknown embedding provider "cohere"/);
    expect(catalog.fromHandle('ollama/nomic-embed-text')).toMatchObject({ endpointType: 'ollama', endpoint: fake.url, dim: 768, batchSize: 2048 });
  });

  it('sends each provider’s own key (or none) to its own base URL', async () => {
    const env = { DEFAULT_EMBEDDING: 'local/lexical-384', OPENAI_API_KEY: 'sk-openai', MISTRAL_API_KEY: 'sk-mistral', MISTRAL_BASE_URL: fake.url, OLLAMA_BASE_URL: fake.url };
    const catalog = new EmbeddingCatalog(env);
    await createEmbedder(catalog.fromHandle('mistral/mistral-embed'), catalog.env).embed(['granite']);
    expect(fake.last).toMatchObject({ path: '/v1/embeddings', headers: { authorization: 'Bearer sk-mistral' } });
    await createEmbedder(catalog.fromHandle('ollama/nomic-embed-text'), catalog.env).embed(['granite']);
    expect(fake.last!.headers.authorization).toBeUndefined();
  });

  it('takes an embedding config endpoint only when it is the one the operator configured', () => {
    const catalog = new EmbeddingCatalog({ DEFAULT_EMBEDDING: 'local/lexical-384', OPENAI_API_KEY: 'sk', OLLAMA_BASE_URL: fake.url });
    const input = { endpointType: 'ollama', model: 'nomic-embed-text', dim: 768 };
    expect(catalog.fromConfig(input).endpoint).toBe(fake.url);
    expect(catalog.fromConfig({ ...input, endpoint: `${fake.url}/` }).endpoint).toBe(fake.url);
    expect(catalog.fromConfig({ ...input, endpointType: 'openai', model: 'text-embedding-3-small', dim: 1536, endpoint: 'https://api.openai.com/v1' }).endpoint).toBe('https://api.openai.com/v1');
    for (const endpoint of ['http://127.0.0.1:5432/v1', 'http://169.254.169.254/latest', 'https://attacker.example/v1']) {
      expect(() => catalog.fromConfig({ ...input, endpoint })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'embeddingConfig.endpoint' } }));
    }
    expect(() => catalog.fromConfig({ ...input, azureEndpoint: 'http://10.0.0.1' })).toThrow(/azureEndpoint must be the one this server is configured with/);
  });

  it('calls Azure deployments with the api-key header and the configured API version', async () => {
    const base = fake.url.replace(/\/v1$/, '');
    const catalog = new EmbeddingCatalog({ DEFAULT_EMBEDDING: 'local/lexical-384', AZURE_OPENAI_API_KEY: 'az-key', AZURE_OPENAI_ENDPOINT: base });
    const config = catalog.fromHandle('azure/text-embedding-3-small');
    expect(config).toMatchObject({ endpointType: 'azure', azureEndpoint: base, azureDeployment: 'text-embedding-3-small', azureVersion: '2024-10-21' });
    const [vector] = await createEmbedder(config, catalog.env).embed(['basalt']);
    expect(vector).toHaveLength(1536);
    expect(fake.last).toMatchObject({ path: '/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21', headers: { 'api-key': 'az-key' } });
    expect(fake.last!.headers.authorization).toBeUndefined();
  });
});
