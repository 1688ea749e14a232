// Live operator view: server load, rooms, and per-connection quality, fed by SSE (/stats/events).
const $ = (id) => document.getElementById(id);
const series = { cpu: [], bw: [], mos: new Map() };
const fmt = (v, digits = 0, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${Number(v).toFixed(digits)}${unit}`);

function spark(svg, values) {
  const vs = values.slice(-60);
  if (!svg) return;
  const max = Math.max(1e-9, ...vs);
  const pts = vs.map((v, i) => `${(i / Math.max(1, vs.length - 1)) * 120},${30 - (v / max) * 28 - 1}`).join(' ');
  svg.innerHTML = `<polyline points="${pts}"></polyline>`;
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function qualityRow(label, q, extra, id, more = []) {
  const tr = document.createElement('tr');
  const s = q.server;
  const c = q.client;
  tr.append(cell(label));
  tr.append(cell(fmt(s?.lossPercent, 1, ' %')), cell(fmt(s?.rttMs, 0, ' ms')), cell(fmt(s?.jitterMs, 1, ' ms')));
  tr.append(cell(fmt(s?.bitrateKbps, 0)), cell(fmt(s?.fps, 0)));
  tr.append(cell(fmt(s?.mos, 2), `mos ${s?.grade ?? ''}`));
  const svgTd = document.createElement('td');
  const key = id;
  const hist = series.mos.get(key) ?? [];
  if (s) hist.push(s.mos);
  series.mos.set(key, hist.slice(-60));
  svgTd.innerHTML = '<svg class="spark" viewBox="0 0 120 30"></svg>';
  spark(svgTd.firstChild, series.mos.get(key));
  tr.append(svgTd);
  tr.append(cell(c ? `${fmt(c.lossPercent, 1, '%')} / ${fmt(c.rttMs, 0, 'ms')}` : '–'));
  tr.append(cell(extra), ...more);
  return tr;
}

// A participant's voice processing (GET /rooms/{room} `voice`): the input level, the level after
// the high-pass, denoiser and AGC (dBFS RMS, last 500 ms) and the noise reduction (the input's
// noise floor less the processed one's). The figures also ride as data attributes (dB, '' when
// there is no reading yet) for tools and tests.
function voiceCell(v) {
  const td = document.createElement('td');
  td.className = 'voice';
  if (!v) {
    td.textContent = '–';
    return td;
  }
  const attrs = { processing: String(v.processing !== false), inputDb: v.inputDb, processedDb: v.processedDb, noiseReductionDb: v.noiseReductionDb, agcGainDb: v.agcGainDb };
  for (const [k, val] of Object.entries(attrs)) td.dataset[k] = val === null || val === undefined ? '' : String(val);
  const steps = [v.highpass && 'high-pass', v.denoise && 'denoise', v.agc && 'AGC'].filter(Boolean).join(' + ') || 'none';
  td.title = v.processing === false ? 'marked untouched: no processing' : `processing: ${steps}; AGC gain ${fmt(v.agcGainDb, 1, ' dB')}`;
  if (v.processing === false) {
    td.textContent = `untouched · in ${fmt(v.inputDb, 0, ' dB')}`;
    return td;
  }
  td.textContent = `${fmt(v.inputDb, 0, ' dB')} → ${fmt(v.processedDb, 0, ' dB')} (noise cut ${fmt(v.noiseReductionDb, 0, ' dB')})`;
  return td;
}

function table(headers) {
  const t = document.createElement('table');
  const tr = document.createElement('tr');
  for (const h of headers) {
    const th = document.createElement('th');
    th.textContent = h;
    tr.append(th);
  }
  t.append(tr);
  return t;
}

function render(snap) {
  const s = snap.server;
  if (!s) {
    // A token for one room sees its room only; server-wide figures need an admin for "*".
    for (const id of ['cpu-node', 'cpu-ffmpeg', 'bw', 'rooms-count', 'setup']) $(id).textContent = '–';
    $('rooms-count').textContent = `${snap.rooms.length} (room "${snap.scope}" only)`;
  } else renderServer(s);
  renderRooms(snap);
}

function renderServer(s) {
  $('cpu-node').textContent = fmt(s.cpu.node * 100, 0, ' %');
  $('cpu-ffmpeg').textContent = fmt(s.cpu.ffmpeg * 100, 0, ' %');
  $('bw').textContent = `${fmt(s.bandwidthKbps.in, 0)} / ${fmt(s.bandwidthKbps.out, 0)} kbps`;
  $('rooms-count').textContent = String(s.rooms);
  const setup = s.callSetup;
  $('setup').textContent = setup.successRate === null ? '–' : `${fmt(setup.successRate * 100, 0, ' %')} (${setup.reachedMedia} ok, ${setup.failed} failed)`;
  series.cpu.push(s.cpu.node + s.cpu.ffmpeg);
  series.bw.push(s.bandwidthKbps.in + s.bandwidthKbps.out);
  spark($('chart-cpu'), series.cpu);
  spark($('chart-bw'), series.bw);
}

function renderRooms(snap) {
  const rooms = $('rooms');
  rooms.replaceChildren(...snap.rooms.map((room) => {
    const div = document.createElement('div');
    div.className = 'room';
    div.dataset.room = room.name;
    const h = document.createElement('h2');
    const m = room.mixer;
    const rungs = Object.entries(m.encoderKbps ?? {}).map(([r, k]) => `${r} ${fmt(k, 0)} kbps`).join(', ') || 'no video rung';
    h.textContent = `${room.name} — mixer ${fmt(m.fps, 1)} fps, CPU ${fmt(m.cpu === null ? null : m.cpu * 100, 0, ' %')}, ${rungs}, dropped ${m.droppedFrames}, repeated ${m.duplicatedFrames}, keyframes ${m.keyframes}, restarts ${m.restarts}`;
    div.append(h);
    const head = ['', 'loss', 'RTT', 'jitter', 'kbps', 'fps', 'MOS', 'MOS trend', 'client loss/RTT', ''];
    const pubs = table(['Publisher', ...head.slice(1, -1), 'time to audio / video', 'voice in → out (noise cut)']);
    for (const p of room.participants) {
      const ttm = `${fmt(p.timeToAudioMs, 0, ' ms')} / ${fmt(p.timeToVideoMs, 0, ' ms')}`;
      const row = qualityRow(`${p.name} ${p.video ? '' : '(audio only)'}`, p.quality, ttm, p.id, [voiceCell(p.voice)]);
      row.dataset.participant = p.id;
      pubs.append(row);
    }
    const subs = table(['Subscriber', ...head.slice(1, -1), 'first video']);
    for (const sub of room.subscriptions) {
      const linked = sub.participantId ? room.participants.find((p) => p.id === sub.participantId)?.name : null;
      subs.append(qualityRow(linked ? `for ${linked}` : 'viewer', sub.quality, fmt(sub.timeToVideoMs, 0, ' ms'), sub.id));
    }
    div.append(pubs, subs);
    return div;
  }));
  if (!snap.rooms.length) rooms.textContent = 'No live rooms.';
}

// With tokens on, open the dashboard as /dashboard#token=<admin token>: the fragment never
// leaves the browser; EventSource cannot send headers, so the stream takes ?access_token=.
const token = new URLSearchParams(location.hash.slice(1)).get('token');

function connect() {
  const es = new EventSource('/stats/events' + (token ? `?access_token=${encodeURIComponent(token)}` : ''));
  es.addEventListener('stats', (e) => {
    $('status').textContent = `live · ${new Date().toLocaleTimeString()}`;
    $('status').className = 'status';
    render(JSON.parse(e.data));
  });
  es.onerror = () => {
    $('status').textContent = token ? 'reconnecting…' : 'reconnecting… (if the server needs tokens, open /dashboard#token=<admin token>)';
    $('status').className = 'status error';
  };
}
connect();
