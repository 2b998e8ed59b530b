/** The SDK's diagnostics sink (its own file so every part can take one without importing the options). */

/** Where the SDK writes diagnostics; every method is optional (default: silent). */
export interface Logger {
  debug?(...args: unknown[]): void;
  warn?(...args: unknown[]): void;
  error?(...args: unknown[]): void;
}
