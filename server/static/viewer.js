// Watch a room's mix over WHEP. Plain browser APIs only.
const $ = (id) => document.getElementById(id);
let pc = null;
let session = null;

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'status error' : 'status';
}

async function waitForIce(peer) {
  if (peer.iceGatheringState === 'complete') return;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    peer.addEventListener('icegatheringstatechange', () => {
      if (peer.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });
}

async function watch() {
  const room = $('room').value.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(room)) { setStatus('room names are letters, digits, "_" and "-"', true); return; }
  await stop();
  setStatus('connecting…');
  pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); $('mix').srcObject = stream; };
  pc.onconnectionstatechange = () => setStatus(pc ? pc.connectionState : 'idle', pc?.connectionState === 'failed');
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  let res;
  try {
    res = await fetch(`/rooms/${room}/whep`, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  } catch {
    setStatus('server unreachable', true);
    return;
  }
  if (res.status !== 201) {
    const body = await res.json().catch(() => ({}));
    setStatus(`refused (${res.status}): ${body.message ?? res.statusText}`, true);
    return;
  }
  session = res.headers.get('Location');
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  $('stop').disabled = false;
}

async function stop() {
  if (session) fetch(session, { method: 'DELETE' }).catch(() => {});
  session = null;
  pc?.close();
  pc = null;
  $('stop').disabled = true;
  setStatus('idle');
}

async function refreshRooms() {
  try {
    const { rooms } = await (await fetch('/rooms')).json();
    const list = $('rooms');
    list.replaceChildren(...(rooms.length ? rooms : [null]).map((r) => {
      const li = document.createElement('li');
      if (!r) { li.textContent = 'no live rooms'; return li; }
      const a = document.createElement('a');
      a.href = '#';
      a.textContent = `${r.name} — ${r.participants} publishing, ${r.subscriptions} watching`;
      a.onclick = (e) => { e.preventDefault(); $('room').value = r.name; watch(); };
      li.append(a);
      return li;
    }));
  } catch { /* server restarting: try again on the next tick */ }
}

$('watch').onclick = () => { watch().catch((e) => setStatus(e.message, true)); };
$('stop').onclick = () => { stop(); };
refreshRooms();
setInterval(refreshRooms, 3000);
