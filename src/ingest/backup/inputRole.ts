/** The role of an input of a stream with primary and backup inputs, as publishers name it (`role=` in an RTMP key or SRT stream id). */

/** Which input of a stream. */
export type InputRole = 'primary' | 'backup';

/** Parses a publisher's `role` field; undefined when absent, an error when unknown. */
export function parseInputRole(value: string | null | undefined): InputRole | undefined | { error: string } {
  if (value === null || value === undefined || value === '') return undefined;
  if (value === 'primary' || value === 'backup') return value;
  return { error: `role must be primary or backup, not "${value.slice(0, 20)}"` };
}
