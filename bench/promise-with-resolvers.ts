/**
 * `Promise.withResolvers` (ES2024) for Node 20, which PostGraphile 5 uses and Node 22 has. Follows the spec
 * (NewPromiseCapability of `this`): a subclass gets its own kind of promise, a non-constructor `this` throws a
 * TypeError, and the property is writable, configurable and not enumerable like the built-in methods. Loaded before
 * PostGraphile by bench/postgraphile-peer.ts; does nothing where the runtime has it.
 */
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    value: function withResolvers<T>(this: PromiseConstructor) {
      if (typeof this !== 'function') throw new TypeError('Promise.withResolvers called on a non-constructor');
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
export {};
