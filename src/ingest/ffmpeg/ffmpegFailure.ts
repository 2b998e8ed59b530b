/**
 * Names the real reason an ffmpeg ingest process could not use a contribution, from its stderr:
 * the text an operator and the encoder's owner can act on, and a short metric label.
 */

/** A classified ffmpeg failure. */
export interface FfmpegFailure {
  /** Metric label (stable, kebab-case). */
  label:
    'no-parameter-sets' | 'invalid-data' | 'unsupported-media' | 'source-unreachable' | 'source-auth' | 'source-not-found' | 'source-timeout' | 'ffmpeg-failed';
  /** What went wrong and what the sender must do, in one sentence. */
  reason: string;
}

const RULES: { test: RegExp; failure: FfmpegFailure }[] = [
  {
    test: /dimensions not set|non-existing PPS|no frame!|decode_slice_header error|sps_id \d+ out of range|Could not find codec parameters for stream \d+ \(Video/,
    failure: {
      label: 'no-parameter-sets',
      reason:
        'the video carried no usable H264 parameter sets (SPS/PPS) within the probe window, so its dimensions are unknown: the encoder must repeat SPS/PPS with every key frame',
    },
  },
  {
    test: /401 Unauthorized|Unauthorized|authorization failed/i,
    failure: { label: 'source-auth', reason: 'the source refused the credentials (401 Unauthorized)' },
  },
  {
    test: /404 Not Found|Stream not found|method DESCRIBE failed: 404/,
    failure: { label: 'source-not-found', reason: 'the source has no stream at that path (404 Not Found)' },
  },
  {
    test: /Connection refused|No route to host|Network is unreachable|Name or service not known|Temporary failure in name resolution/,
    failure: { label: 'source-unreachable', reason: 'the source could not be reached (connection refused or no route)' },
  },
  { test: /Connection timed out|Operation timed out/, failure: { label: 'source-timeout', reason: 'the source stopped answering (timed out)' } },
  {
    test: /Invalid data found when processing input|could not find codec parameters|Invalid NAL unit size|Error splitting the input into NAL units/i,
    failure: { label: 'invalid-data', reason: 'the input is not a stream ffmpeg can parse (invalid data)' },
  },
];

/** The reason behind an ffmpeg exit, from the tail of its stderr; `ffmpeg-failed` when unknown. */
export function classifyFfmpegFailure(stderr: string, exit: string): FfmpegFailure {
  for (const rule of RULES) if (rule.test.test(stderr)) return rule.failure;
  const last = stderr
    .trim()
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .pop()
    ?.trim()
    .slice(0, 200);
  return { label: 'ffmpeg-failed', reason: `ffmpeg exited (${exit})${last ? `: ${last}` : ''}` };
}
