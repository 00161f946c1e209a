import {
  TypeInfo,
  createSourceEventStream,
  execute,
  getNamedType,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import type { ChangeOf, EventBus, Topic } from './events.js';
import type { SubscriptionConnection, SubscriptionRegistry } from './subscription-limits.js';

/**
 * Live streams of state changes, the machinery under every subscription:
 *
 * - one bus subscription per (topic, organization) per app, shared by all its local subscribers (the app's hub),
 *   so 1,000 subscribers to one source cost one Redis channel and one JSON parse per event;
 * - subscribe first, then read the current state, then merge: nothing published between the read and the
 *   subscription is lost, and events older than what was already delivered (by `compare`) are dropped;
 * - a slow consumer gets the latest state of each object rather than every intermediate one (states are whole
 *   snapshots, so nothing is lost but steps; a terminal state is never dropped);
 * - after the broker comes back from a lost connection, every stream re-reads its state (events published
 *   meanwhile are gone);
 * - counted against the connection and organization limits, and completed by the server's shutdown.
 */

type Listener<C> = (change: C) => void;

interface Channel {
  listeners: Set<Listener<never>>;
  iterator: AsyncIterableIterator<unknown>;
  ready: Promise<unknown>;
}

/** Fans one bus subscription per (topic, organization) out to this process's subscribers (one hub per bus, made with the app). */
export class EventHub {
  private readonly channels = new Map<string, Channel>();
  private readonly resyncs = new Set<() => void>();

  constructor(private readonly events: EventBus) {
    // After a broker reconnection, events published meanwhile were lost: every stream re-reads its state.
    events.onReconnect(() => {
      for (const resync of [...this.resyncs]) resync();
    });
  }

  /** Adds a listener; resolves, once the bus subscription is in effect, to the function that removes it. */
  async listen<T extends Topic>(topic: T, organizationId: string, listener: Listener<ChangeOf<T>>, resync?: () => void): Promise<() => void> {
    const key = `${topic}:${organizationId}`;
    let channel = this.channels.get(key);
    if (!channel) {
      channel = this.open(topic, organizationId, key);
      this.channels.set(key, channel);
    }
    const { listeners } = channel;
    listeners.add(listener as Listener<never>);
    if (resync) this.resyncs.add(resync);
    let removed = false;
    const remove = () => {
      if (removed) return;
      removed = true;
      if (resync) this.resyncs.delete(resync);
      listeners.delete(listener as Listener<never>);
      if (listeners.size === 0 && this.channels.get(key) === channel) {
        this.channels.delete(key);
        void channel.iterator.return?.();
      }
    };
    try {
      await channel.ready;
    } catch (error) {
      remove();
      throw error;
    }
    return remove;
  }

  private open(topic: Topic, organizationId: string, key: string): Channel {
    const iterator = this.events.subscribe(topic, organizationId);
    const first = iterator.next(); // makes the subscription (the bus's iterators are lazy)
    const listeners = new Set<Listener<never>>();
    const channel: Channel = { listeners, iterator, ready: this.events.ready(topic, organizationId) };
    void (async () => {
      try {
        for (let result = await first; !result.done; result = await iterator.next()) {
          for (const listener of listeners) {
            try {
              listener(result.value as never);
            } catch {
              // One subscriber's failure must not starve the others; streams handle their own errors.
            }
          }
        }
      } catch {
        // The bus closed under us (shutdown).
      }
      if (this.channels.get(key) === channel) this.channels.delete(key);
    })();
    return channel;
  }

  /** Local subscribers, for tests and diagnostics. */
  size(): number {
    let n = 0;
    for (const channel of this.channels.values()) n += channel.listeners.size;
    return n;
  }
}

export interface LiveOptions<T extends Topic> {
  topic: T;
  organizationId: string;
  registry: SubscriptionRegistry;
  connection: SubscriptionConnection;
  /** The app's hub over its event bus. */
  hub: EventHub;
  /** Which events of the organization's topic this stream wants. */
  match(change: ChangeOf<T>): boolean;
  /** The current state of the watched objects, read once the bus subscription is in effect. */
  load(): Promise<ChangeOf<T>[]>;
  /** Orders two states of one object (> 0 when `a` is newer). A state not newer than the last delivered is dropped. */
  compare(a: ChangeOf<T>, b: ChangeOf<T>): number;
  /** For single-object streams: the state after which the stream completes. */
  isFinal?(change: ChangeOf<T>): boolean;
  /** Called when `load` is empty: single-object streams throw NOT_FOUND here. */
  onEmpty?(): void;
}

/**
 * Opens a live stream: counts it against the limits (RATE_LIMITED past them), subscribes, reads the current
 * state, and returns an iterator whose first values are that state. Errors before the first value (limits,
 * NOT_FOUND) are thrown here, so GraphQL reports them as the subscription's errors.
 */
export async function openLiveStream<T extends Topic>(options: LiveOptions<T>): Promise<AsyncIterableIterator<ChangeOf<T>>> {
  const stream = new LiveStream(options);
  await stream.start();
  return stream;
}

const MAX_TRACKED = 10_000;

class LiveStream<T extends Topic> implements AsyncIterableIterator<ChangeOf<T>> {
  /** States waiting for the consumer, one per object (the newest), in arrival order. */
  private pending = new Map<string, ChangeOf<T>>();
  /** The last state delivered per object (bounded, least recently changed dropped first). */
  private readonly delivered = new Map<string, ChangeOf<T>>();
  private waiter: ((result: IteratorResult<ChangeOf<T>>) => void) | null = null;
  /** Why the stream was ended, still to be delivered. */
  private reason: Error | undefined;
  private loading = true;
  private done = false;
  private release: () => void = () => {};
  private unlisten: () => void = () => {};

  constructor(private readonly options: LiveOptions<T>) {}

  async start(): Promise<void> {
    const o = this.options;
    this.release = o.registry.acquire(o.connection, o.organizationId, { end: (reason) => this.finish(reason) });
    try {
      const unlisten = await o.hub.listen(o.topic, o.organizationId, (change) => this.offer(change), () => this.resync());
      if (this.done) return unlisten(); // ended by shutdown while subscribing
      this.unlisten = unlisten;
      const current = await o.load();
      if (current.length === 0) o.onEmpty?.();
      // The current state first; an event that arrived meanwhile replaces it when newer.
      const merged = new Map<string, ChangeOf<T>>();
      for (const state of current) {
        const newer = this.pending.get(state.id);
        merged.set(state.id, newer && o.compare(newer, state) > 0 ? newer : state);
      }
      for (const [id, change] of this.pending) if (!merged.has(id)) merged.set(id, change);
      this.pending = merged;
      this.loading = false;
    } catch (error) {
      this.finish();
      throw error;
    }
  }

  /** An event (or re-read state) for the consumer, unless it is stale or not wanted. */
  private offer(change: ChangeOf<T>) {
    if (this.done || !this.options.match(change)) return;
    const queued = this.pending.get(change.id);
    if (queued && this.options.compare(change, queued) <= 0) return;
    this.pending.set(change.id, change);
    if (!this.loading) this.wake();
  }

  private resync() {
    if (this.done || this.loading) return;
    this.options.load().then(
      (states) => states.forEach((state) => this.offer(state)),
      () => {}, // the next event or resync will tell; the stream stays open
    );
  }

  private wake() {
    const resolve = this.waiter;
    if (!resolve) return;
    this.waiter = null; // before take(): delivering a final state finishes the stream
    const value = this.take();
    if (value === undefined) this.waiter = resolve;
    else resolve({ value, done: false });
  }

  /** The next state to deliver, skipping any not newer than what this consumer already has. */
  private take(): ChangeOf<T> | undefined {
    for (const [id, change] of this.pending) {
      this.pending.delete(id);
      const last = this.delivered.get(id);
      if (last && this.options.compare(change, last) <= 0) continue;
      this.delivered.delete(id);
      this.delivered.set(id, change);
      if (this.delivered.size > MAX_TRACKED) this.delivered.delete(this.delivered.keys().next().value!);
      // The final state is delivered, then the stream ends (its resources go at once).
      if (this.options.isFinal?.(change)) this.finish();
      return change;
    }
    return undefined;
  }

  next(): Promise<IteratorResult<ChangeOf<T>>> {
    if (this.reason) {
      // Delivered as the last value: the subscription field resolves to an Error, so the client gets it as the
      // result's error (with its code), then `complete`.
      const reason = this.reason;
      this.reason = undefined;
      return Promise.resolve({ value: reason as never, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    const value = this.take();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<ChangeOf<T>>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<ChangeOf<T>>> {
    this.finish();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /**
   * Ends the stream: stops listening, frees its place in the limits, and completes a waiting consumer — after
   * handing it `reason` (an error the client should see, such as its key's revocation) if there is one.
   */
  private finish(reason?: Error) {
    if (this.done) return;
    this.done = true;
    this.pending.clear();
    this.unlisten();
    this.release();
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter && reason) waiter({ value: reason as never, done: false });
    else if (reason && !this.loading) this.reason = reason;
    else waiter?.({ value: undefined, done: true });
  }
}

/** Extensions of an object type whose fields all resolve from the event object alone (Pothos `extensions`). */
export const EVENT_TYPE = { liveEvent: true } as const;
/** Extensions of a field of such a type that reads more (the database): its result depends on who asks. */
export const READS_BEYOND_EVENT = { liveEventReadsBeyond: true } as const;

interface Caller {
  actor?: { organizationId: string; userId: string; role: string };
}

/**
 * Subscriptions as graphql-js runs them, with three changes:
 * - the same event delivered to many subscribers of the same operation is executed once, and the result
 *   shared: 1,000 subscribers to one source cost one execution per event, not 1,000. Results are shared
 *   within an organization when the selection reads only the event (EVENT_TYPE fields), else only between
 *   subscriptions of the same user;
 * - resolvers below a subscription field run once per event, and graphql-js gives them all the operation's
 *   context; Pothos and DataLoader cache per context object, so a second event would be answered from the
 *   first one's cache. Each event runs with a fresh copy of the context instead (same actor, database, limits);
 * - a subscription refused before its first event gets `data: null` (see below).
 */
export function useSubscriptionExecution(): Plugin {
  // Per event object (the hub hands the same object to every local subscriber), results by operation and caller.
  const shared = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();
  const documentIds = new WeakMap<DocumentNode, number>();
  const eventOnly = new WeakMap<DocumentNode, boolean>();
  let nextDocumentId = 0;
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const stream = await createSourceEventStream(args);
        // Refused before the first event (NOT_FOUND, RATE_LIMITED…): a result like a query's, `data: null`, so that
        // yoga answers SSE with 200 and a `next` event carrying the errors (as over WebSocket), not a bare 500.
        if (!isAsyncIterable(stream)) return { data: null, ...stream };
        let documentId = documentIds.get(args.document);
        if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
        let onlyEvent = eventOnly.get(args.document);
        if (onlyEvent === undefined) eventOnly.set(args.document, (onlyEvent = readsOnlyEvent(args.schema, args.document)));
        const actor = (args.contextValue as Caller).actor;
        const caller = onlyEvent ? actor?.organizationId : `${actor?.organizationId}|${actor?.userId}|${actor?.role}`;
        const key = caller === undefined ? null : `${documentId}|${args.operationName ?? ''}|${JSON.stringify(args.variableValues ?? {})}|${caller}`;
        const run = (payload: unknown) => execute({ ...args, rootValue: payload, contextValue: { ...(args.contextValue as object) } });
        return mapAsyncIterator(stream, (payload) => {
          if (key === null || typeof payload !== 'object' || payload === null) return run(payload);
          let results = shared.get(payload);
          if (!results) shared.set(payload, (results = new Map()));
          let result = results.get(key);
          if (!result) results.set(key, (result = run(payload) as ExecutionResult | Promise<ExecutionResult>));
          return result;
        });
      });
    },
  };
}

/** Whether every field the subscription selects resolves from the event alone (see EVENT_TYPE). */
function readsOnlyEvent(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  const root = schema.getSubscriptionType();
  let only = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node.name.value === '__typename') return;
        const parent = typeInfo.getParentType();
        const field = typeInfo.getFieldDef();
        if (!parent || !field) {
          only = false;
          return;
        }
        if (parent === root) return;
        const named = getNamedType(field.type);
        const leaf = !('getFields' in named);
        if (!parent.extensions?.liveEvent || field.extensions?.liveEventReadsBeyond || !leaf) only = false;
      },
    }),
  );
  return only;
}
