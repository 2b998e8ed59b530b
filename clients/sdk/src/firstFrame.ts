/** Waiting for a media element to show its first frame. */
import { SubsecError } from './errors';

/** A pending wait: `done` settles once; `fail` rejects it early, returning false once settled. */
export interface FirstFrameWait {
  done: Promise<void>;
  fail(error: SubsecError): boolean;
}

/**
 * Resolves on the element's next `playing` (at once when it already plays), rejects with
 * TIMEOUT after `timeoutMs` (`what` names the transport in the message) or on `fail()`.
 */
export function waitForFirstFrame(media: HTMLMediaElement, timeoutMs: number, what: string): FirstFrameWait {
  if (media.readyState >= 2 && !media.paused) return { done: Promise.resolve(), fail: () => false };
  let fail: (error: SubsecError) => boolean = () => false;
  const done = new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: SubsecError): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      media.removeEventListener('playing', onPlaying);
      if (error) reject(error);
      else resolve();
      return true;
    };
    const timer = setTimeout(() => finish(new SubsecError('TIMEOUT', `${what}: no frame within ${timeoutMs} ms`)), timeoutMs);
    const onPlaying = (): void => void finish();
    media.addEventListener('playing', onPlaying);
    fail = finish;
  });
  return { done, fail: (error) => fail(error) };
}
