// The HLS viewer: hls.js (served from node_modules) plays /rooms/{room}/hls/index.m3u8.
(function () {
  const room = decodeURIComponent(location.pathname.split('/')[2] || '');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const src = `/rooms/${encodeURIComponent(room)}/hls/index.m3u8` + (token ? `?access_token=${encodeURIComponent(token)}` : '');
  const video = document.getElementById('video');
  const status = document.getElementById('status');
  const info = document.getElementById('info');
  document.getElementById('room-name').textContent = room;
  const state = { playing: false, level: null, error: null };
  window.__watch = state;
  const say = (s) => (status.textContent = s);
  video.addEventListener('playing', () => {
    state.playing = true;
    say('playing');
  });
  if (window.Hls && window.Hls.isSupported()) {
    const hls = new window.Hls({ liveSyncDurationCount: 2, manifestLoadingMaxRetry: 6, manifestLoadingRetryDelay: 2000 });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, (_e, d) => {
      const l = hls.levels[d.level];
      state.level = l ? `${l.height}p` : null;
      info.textContent = `Variant: ${state.level} (${Math.round((l?.bitrate || 0) / 1000)} kbps)`;
    });
    hls.on(window.Hls.Events.ERROR, (_e, d) => {
      if (d.fatal) {
        state.error = d.details;
        say(`error: ${d.details}`);
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    say('connecting');
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = src; // Safari plays HLS natively
  } else {
    say('this browser cannot play HLS');
  }
})();
