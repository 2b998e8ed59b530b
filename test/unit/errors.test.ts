import { describe, expect, it } from 'vitest';
import { toWireError, NotFoundError, UnauthorizedError, SubsecError } from '../../src/core/errors';
import { ErrorCode, httpStatusOf } from '../../src/protocol/errors';

describe('error mapping', () => {
  it('keeps project errors with their code and HTTP status', () => {
    expect(toWireError(new NotFoundError('no room'))).toEqual({ code: 'NOT_FOUND', message: 'no room' });
    expect(new UnauthorizedError().httpStatus).toBe(401);
    expect(new SubsecError(ErrorCode.DRAINING, 'x').httpStatus).toBe(503);
  });

  it('maps argument errors from libraries to BAD_REQUEST and hides unknown internals', () => {
    expect(toWireError(new TypeError('invalid rtpParameters')).code).toBe('BAD_REQUEST');
    const internal = toWireError(new Error('ECONNRESET at secret path /root/x'));
    expect(internal).toEqual({ code: 'INTERNAL', message: 'internal error' });
  });

  it('has an HTTP status for every code', () => {
    for (const code of Object.values(ErrorCode)) expect(httpStatusOf[code]).toBeGreaterThanOrEqual(400);
  });
});
