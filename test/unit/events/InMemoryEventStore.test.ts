import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryEventStore } from '../../../src/events/InMemoryEventStore';
import { draft, storeContract } from './storeContract';

let store: InMemoryEventStore | undefined;
let n = 0;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

describe('InMemoryEventStore', () => {
  storeContract(
    () => (store ??= new InMemoryEventStore()),
    () => `room-${++n}`,
  );

  it('forgets a room whose history aged out and restarts its numbering', async () => {
    let now = 1_000_000;
    store = new InMemoryEventStore({ now: () => now });
    const retention = { maxEvents: 10, maxAgeMs: 1000 };
    await store.append({ room: 'r', draft: draft('r', 'n', 1, 'a', now), idempotencyKey: 'a:k', idempotencyTtlMs: 500, retention });
    now += 2000;
    store.sweep();
    expect(store.roomCount).toBe(0);
    const again = await store.append({ room: 'r', draft: draft('r', 'n', 2, 'a', now), idempotencyKey: 'a:k', idempotencyTtlMs: 500, retention });
    expect(again.status === 'appended' && again.event.seq).toBe(1);
  });

  it('expires idempotency records after their TTL', async () => {
    let now = 1_000_000;
    store = new InMemoryEventStore({ now: () => now });
    const retention = { maxEvents: 10, maxAgeMs: 60_000 };
    await store.append({ room: 'r', draft: draft('r', 'n', 1, 'a', now), idempotencyKey: 'a:k', idempotencyTtlMs: 500, retention });
    now += 600;
    const second = await store.append({ room: 'r', draft: draft('r', 'n', 2, 'a', now), idempotencyKey: 'a:k', idempotencyTtlMs: 500, retention });
    expect(second.status === 'appended' && second.event.seq).toBe(2);
  });

  it('refuses use after close', async () => {
    store = new InMemoryEventStore();
    await store.close();
    await expect(store.read('r', 0, 1)).rejects.toThrow(/closed/);
  });
});
