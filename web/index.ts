// The lobby: live rooms, and a form to create or join one.
const $ = (id: string) => document.getElementById(id)!;

async function refresh(): Promise<void> {
  const list = $('rooms');
  try {
    const res = await fetch('/rooms', { headers: { Accept: 'application/json' } });
    if (res.status === 401 || res.status === 403) {
      list.textContent = 'Listing rooms needs an admin token on this server; enter a room name to join.';
      return;
    }
    const { rooms } = await res.json();
    list.replaceChildren(
      ...(rooms.length ? rooms : [null]).map((r: { name: string; participants: number; subscriptions: number } | null) => {
        const li = document.createElement('li');
        if (!r) {
          li.textContent = 'No live rooms yet.';
          return li;
        }
        const a = document.createElement('a');
        a.href = `/rooms/${encodeURIComponent(r.name)}`;
        a.textContent = `${r.name} — ${r.participants} in the call, ${r.subscriptions} watching`;
        // The room page takes individual tracks when the browser can; this link forces the composite.
        const mix = document.createElement('a');
        mix.href = `/rooms/${encodeURIComponent(r.name)}?mode=mix`;
        mix.textContent = 'composite';
        li.append(a, ' · ', mix);
        return li;
      }),
    );
    $('status').textContent = '';
  } catch {
    $('status').textContent = 'server unreachable';
    $('status').className = 'status error';
  }
}

$('go').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = ($('room') as HTMLInputElement).value.trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    $('status').textContent = 'room names are 1-64 letters, digits, "_" or "-"';
    $('status').className = 'status error';
    return;
  }
  location.href = `/rooms/${encodeURIComponent(name)}`;
});
void refresh();
setInterval(() => void refresh(), 3000);
