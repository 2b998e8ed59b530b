/**
 * Minimum time between key frame requests sent to a video publisher (ms), for producers fed by
 * browsers (SDK, WHIP). Browsers built on
 * libwebrtc ignore a PLI/FIR that comes within 300 ms of the previous one, and mediasoup then
 * waits 1 s before asking again (swallowing every request meanwhile), so a viewer subscribing
 * right after another one got its first frame ~1 s late. Holding a second request back until
 * 350 ms have passed (mediasoup coalesces them) gets it honoured: ≤ ~350 ms instead.
 */
export const KEY_FRAME_REQUEST_DELAY_MS = 350;
