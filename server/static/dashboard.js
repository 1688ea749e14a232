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

function qualityRow(label, q, extra, id) {
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
  tr.append(cell(extra));
  return tr;
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
    const pubs = table(['Publisher', ...head.slice(1, -1), 'time to media']);
    for (const p of room.participants) {
      const ttm = `${fmt(p.timeToAudioMs, 0, ' ms')} / ${fmt(p.timeToVideoMs, 0, ' ms')}`;
      const row = qualityRow(`${p.name} ${p.video ? '' : '(audio only)'}`, p.quality, ttm, p.id);
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

function connect() {
  const es = new EventSource('/stats/events');
  es.addEventListener('stats', (e) => {
    $('status').textContent = `live · ${new Date().toLocaleTimeString()}`;
    $('status').className = 'status';
    render(JSON.parse(e.data));
  });
  es.onerror = () => {
    $('status').textContent = 'reconnecting…';
    $('status').className = 'status error';
  };
}
connect();
