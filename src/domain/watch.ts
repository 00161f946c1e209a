import type { EventHub } from '../core/live.js';
import type { SubscriptionConnection, SubscriptionRegistry } from '../core/subscription-limits.js';
import type { PrismaClient } from '../generated/prisma/client.js';

/**
 * What every domain's watch shares (each lives with its domain: watchJob in jobs.ts, watchFile in files.ts,
 * watchSourceFiles in sources.ts, watchRun in runs.ts): each stream starts with the current state (read from the
 * database once the event subscription is in effect) and continues with every change, newest wins. A single
 * object's stream ends after its terminal state; a missing id, or another organization's, is NOT_FOUND. Events
 * carry the state itself, so delivering one reads nothing from the database.
 */

export interface WatchScope {
  /** Tenant-scoped. */
  db: PrismaClient;
  organizationId: string;
  registry: SubscriptionRegistry;
  connection: SubscriptionConnection;
  hub: EventHub;
}

/** Lexicographic order of two version keys. */
function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * `key` memoized per change object: one event object reaches every local subscriber, and each compares it
 * at least twice, so with 1,000 subscribers the key would otherwise be computed thousands of times.
 */
export function keyed<C extends object>(key: (change: C) => number[]): (a: C, b: C) => number {
  const cache = new WeakMap<C, number[]>();
  const of = (change: C) => {
    let k = cache.get(change);
    if (!k) cache.set(change, (k = key(change)));
    return k;
  };
  return (a, b) => compareKeys(of(a), of(b));
}

/** An event's time, for the version keys. */
export const eventTime = (iso: string) => Date.parse(iso);
