// Imports only: each file registers one domain's types, queries and mutations on the builder.
import { builder } from './builder.js';
import './accounts.js';

export const schema = builder.toSchema({ sortSchema: true });
