import type { EmbeddingCatalog, EmbeddingConfig } from '../embeddings/config.js';
import { builder } from './builder.js';

/** Embedding configurations (Letta's EmbeddingConfig, in camelCase) and the providers this server can use. */

export const EmbeddingConfigRef = builder.objectRef<EmbeddingConfig>('EmbeddingConfig').implement({
  fields: (t) => ({
    endpointType: t.exposeString('endpointType', { description: 'Letta’s embedding_endpoint_type: local, openai, …' }),
    endpoint: t.exposeString('endpoint', { nullable: true }),
    model: t.exposeString('model'),
    dim: t.exposeInt('dim', { description: 'Vector dimension; passages are stored at exactly this size.' }),
    chunkSize: t.exposeInt('chunkSize', { description: 'Tokens per passage.' }),
    handle: t.exposeString('handle', { nullable: true }),
    batchSize: t.exposeInt('batchSize'),
    azureEndpoint: t.exposeString('azureEndpoint', { nullable: true }),
    azureVersion: t.exposeString('azureVersion', { nullable: true }),
    azureDeployment: t.exposeString('azureDeployment', { nullable: true }),
  }),
});

export const EmbeddingConfigInput = builder.inputType('EmbeddingConfigInput', {
  fields: (t) => ({
    endpointType: t.string({ required: true }),
    endpoint: t.string({ description: 'Only the endpoint this server is configured with for the provider (or leave it out): no other URL is called.' }),
    model: t.string({ required: true }),
    dim: t.int({ required: true }),
    chunkSize: t.int(),
    handle: t.string(),
    batchSize: t.int(),
    azureEndpoint: t.string({ description: 'Only AZURE_OPENAI_ENDPOINT (or leave it out).' }),
    azureVersion: t.string(),
    azureDeployment: t.string(),
  }),
});

type ProviderShape = ReturnType<EmbeddingCatalog['list']>[number];

const EmbeddingModel = builder.objectRef<ProviderShape['models'][number]>('EmbeddingModel').implement({
  fields: (t) => ({ handle: t.exposeString('handle'), dim: t.exposeInt('dim') }),
});

const EmbeddingProvider = builder.objectRef<ProviderShape>('EmbeddingProvider').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    configured: t.exposeBoolean('configured', { description: 'False when the server lacks its settings (e.g. OPENAI_API_KEY).' }),
    models: t.field({ type: [EmbeddingModel], resolve: (p) => p.models }),
  }),
});

builder.queryField('embeddingProviders', (t) =>
  t.field({
    type: [EmbeddingProvider],
    description: 'Embedding providers and models this server knows, and whether each can be used.',
    resolve: (_root, _args, ctx) => ctx.embeddings.list(),
  }),
);

builder.queryField('defaultEmbedding', (t) =>
  t.string({ description: 'The handle new sources get when they name none (DEFAULT_EMBEDDING).', resolve: (_root, _args, ctx) => ctx.embeddings.defaultHandle }),
);
