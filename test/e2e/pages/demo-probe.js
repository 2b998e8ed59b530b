/**
 * In-page probe for the demo page test: reads what a person would see on the page (remote tiles,
 * their <video> playback, the chat log) without touching the SDK. Installed as `window.demoProbe`.
 */
(() => {
  function tileOf(identity, kind) {
    return document.querySelector(`#videos figure.remote[data-identity="${CSS.escape(identity)}"][data-kind="${CSS.escape(kind)}"]`);
  }

  /** The remote video tile of `identity`: decoded frames, resolution, layer; null if absent. */
  function tile(identity) {
    const figure = tileOf(identity, 'video');
    if (!figure) return null;
    const video = figure.querySelector('video');
    const quality = video.getVideoPlaybackQuality();
    const select = figure.querySelector('select.layer');
    return {
      frames: quality.totalVideoFrames,
      dropped: quality.droppedVideoFrames,
      width: video.videoWidth,
      height: video.videoHeight,
      spatialLayer: figure.dataset.spatialLayer ?? null,
      producerId: figure.dataset.producerId,
      layerSelectable: Boolean(select && !select.closest('label').hidden),
      selectedLayer: select ? select.value : null,
    };
  }

  /** Chat log lines as shown. */
  function chat() {
    return [...document.querySelectorAll('#chat-log li')].map((li) => li.textContent);
  }

  /** Errors the demo page displayed. */
  function errors() {
    return window.subsecDemo.errors.slice();
  }

  window.demoProbe = { tile, chat, errors };
})();
