/** An error the CLI reports as one line on stderr with a specific exit code. */

/** Exit codes of the `subsec` command. */
export const ExitCode = {
  OK: 0,
  /** The node answered with an error (4xx/5xx). */
  API_ERROR: 1,
  /** Bad command line or configuration. */
  USAGE: 2,
  /** The node could not be reached. */
  UNREACHABLE: 3,
} as const;

/** A failure with its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
