import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/core/Lifecycle';
import { createLogger } from '../../src/core/logger';

describe('Lifecycle', () => {
  it('closes started components in reverse order, then owned ones, awaiting each, past a failing close', async () => {
    const life = new Lifecycle(createLogger('test'));
    const events: string[] = [];
    life.own('pool', () => void events.push('close pool'));
    await life.start(
      'a',
      async () => void events.push('start a'),
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        events.push('close a');
      },
    );
    await life.start(
      'b',
      () => void events.push('start b'),
      () => {
        events.push('close b');
        throw new Error('b would not close');
      },
    );
    await life.start('c', undefined, async () => void events.push('close c'));
    expect(life.started).toEqual(['a', 'b', 'c']);
    await Promise.all([life.close(), life.close()]);
    expect(events).toEqual(['start a', 'start b', 'close c', 'close b', 'close a', 'close pool']);
    expect(life.started).toEqual([]);
    await expect(life.start('d', undefined, () => undefined)).rejects.toThrow(/closing/);
  });

  it('records nothing for a component whose start failed', async () => {
    const life = new Lifecycle(createLogger('test'));
    let closed = false;
    await expect(
      life.start(
        'x',
        async () => {
          throw new Error('no');
        },
        () => void (closed = true),
      ),
    ).rejects.toThrow('no');
    await life.close();
    expect(closed).toBe(false);
  });
});
