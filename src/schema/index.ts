// Imports only: each file registers one domain's types, queries and mutations on the builder.
import { builder } from './builder.js';
import './accounts.js';
import './admin.js';
import './embeddings.js';
import './sources.js';
import './files.js';
import './uploads.js';
import './passages.js';
import './agents.js';
import './tools.js';
import './runs.js';
import './templates.js';
import './jobs.js';
import './batches.js';
import './subscriptions.js';

export const schema = builder.toSchema({ sortSchema: true });
