import { describe, expect, it } from 'vitest';
import { requestEnvelope, requestSchemas } from '../../src/protocol/signaling';

describe('signaling schemas', () => {
  it('accepts a well-formed join', () => {
    expect(requestSchemas.join.safeParse({ protocol: 1, token: 'abc' }).success).toBe(true);
  });

  it('rejects unknown fields and wrong types', () => {
    expect(requestSchemas.join.safeParse({ protocol: 1, token: 'abc', admin: true }).success).toBe(false);
    expect(requestSchemas.setPreferredLayers.safeParse({ consumerId: 'c', spatialLayer: 9 }).success).toBe(false);
    expect(requestSchemas.createTransport.safeParse({ direction: 'sideways' }).success).toBe(false);
  });

  it('requires an id and a method in the envelope', () => {
    expect(requestEnvelope.safeParse({ method: 'join' }).success).toBe(false);
    expect(requestEnvelope.safeParse({ id: 1, method: 'join', params: {} }).success).toBe(true);
    expect(requestEnvelope.safeParse({ id: {}, method: 'join' }).success).toBe(false);
  });
});
