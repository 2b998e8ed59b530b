/** Errors of calls between nodes: timeouts, unreachable nodes and errors raised by the remote handler. */
import { SubsecError } from '../core/errors';
import { ErrorCode } from '../protocol/errors';

/** Why an RPC failed. */
export type RpcFailure = 'timeout' | 'unreachable' | 'remote';

/** An RPC to another node failed; `code` is the remote error's code for `remote` failures. */
export class CascadeRpcError extends SubsecError {
  override name = 'CascadeRpcError';
  constructor(
    readonly failure: RpcFailure,
    readonly nodeId: string,
    readonly method: string,
    message: string,
    code: ErrorCode = ErrorCode.INTERNAL,
  ) {
    super(code, `${method} on node ${nodeId}: ${message}`);
  }
}
