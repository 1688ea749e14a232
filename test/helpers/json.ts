// A JSON request for tests: the parsed body, or an error naming the method, URL, status and body.

export async function json(url: string, init?: RequestInit): Promise<any> {
  const r = await fetch(url, init);
  const body = await r.text();
  if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${r.status} ${body}`);
  return JSON.parse(body) as any;
}
