/**
 * Runtime gaps on Node 20 that the moq stack relies on: `Promise.withResolvers` (@moq/qmux,
 * @moq/web-socket-stream, @moq/net) and the ES2025 Set methods (@moq/net's publisher diffs its
 * announced broadcasts with `Set.prototype.difference`). Imported by every relay entry point
 * and by anything that runs @moq/net in Node 20.
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

/** Installs `Promise.withResolvers` (ES2024) where the runtime lacks it. Idempotent. */
export function installPolyfills(): void {
  const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
  if (typeof P.withResolvers === 'function') return;
  P.withResolvers = function withResolvers<T>(): Resolvers<T> {
    let resolve!: Resolvers<T>['resolve'];
    let reject!: Resolvers<T>['reject'];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

type SetMethod = (this: Set<unknown>, other: ReadonlySetLike) => unknown;
interface ReadonlySetLike {
  has(v: unknown): boolean;
  keys(): Iterator<unknown>;
  size: number;
}

const setMethods: Record<string, SetMethod> = {
  difference(other) {
    return new Set([...this].filter((v) => !other.has(v)));
  },
  union(other) {
    const out = new Set(this);
    const it = other.keys();
    for (let n = it.next(); !n.done; n = it.next()) out.add(n.value);
    return out;
  },
  intersection(other) {
    return new Set([...this].filter((v) => other.has(v)));
  },
  symmetricDifference(other) {
    const out = new Set(this);
    const it = other.keys();
    for (let n = it.next(); !n.done; n = it.next()) {
      if (this.has(n.value)) out.delete(n.value);
      else out.add(n.value);
    }
    return out;
  },
  isSubsetOf(other) {
    return [...this].every((v) => other.has(v));
  },
  isSupersetOf(other) {
    const it = other.keys();
    for (let n = it.next(); !n.done; n = it.next()) if (!this.has(n.value)) return false;
    return true;
  },
  isDisjointFrom(other) {
    return [...this].every((v) => !other.has(v));
  },
};

/** Installs the ES2025 Set methods where missing. Idempotent. */
export function installSetMethods(): void {
  const proto = Set.prototype as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(setMethods)) {
    if (typeof proto[name] !== 'function') Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
  }
}

installPolyfills();
installSetMethods();
