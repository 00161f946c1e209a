import { randomUUID } from 'node:crypto';

/**
 * Quarry ids are `<prefix>-<uuid4>` like Letta's, globally unique, so the prefix alone tells what an id names
 * (node(id:) dispatches on it). The database generates them; `newId` exists for rows built in code.
 */
export const ID_PREFIXES = {
  org: 'Organization',
  user: 'User',
  apikey: 'ApiKey',
  source: 'Source',
  file: 'File',
  file_content: 'FileContent',
  pset: 'PassageSet',
  callback: 'CallbackDelivery',
  passage: 'Passage',
  agent: 'Agent',
  file_agent: 'FileAgent',
  tool: 'Tool',
  job: 'Job',
  run: 'Run',
  step: 'RunStep',
  template: 'AgentTemplate',
  template_version: 'AgentTemplateVersion',
  batch_item: 'BatchItem',
  message: 'Message',
} as const;

export type IdPrefix = keyof typeof ID_PREFIXES;

const UUID4 = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const ANY_ID = new RegExp(`^([a-z_]+)-(${UUID4})$`);

export function newId(prefix: IdPrefix): string {
  return `${prefix}-${randomUUID()}`;
}

/** The prefix of a well-formed Quarry id, or null. */
export function idPrefix(id: string): IdPrefix | null {
  const match = ANY_ID.exec(id);
  if (!match || !(match[1] in ID_PREFIXES)) return null;
  return match[1] as IdPrefix;
}

export function isId(prefix: IdPrefix, id: string): boolean {
  return idPrefix(id) === prefix;
}

/** The GraphQL/Prisma type an id names, or null for anything malformed. */
export function typeForId(id: string): string | null {
  const prefix = idPrefix(id);
  return prefix ? ID_PREFIXES[prefix] : null;
}
