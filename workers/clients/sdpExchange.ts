// The WHIP/WHEP exchange over HTTP: POST an SDP offer, get the answer and the session's URL, or an
// HttpStatusError with the server's status and body. No WebRTC stack: the werift client
// (WhepRtpClient) and the recording worker use it without loading @roamhq/wrtc.

export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** POSTs an SDP offer; returns the answer and the session URL (absolute). */
export async function exchangeSdp(
  url: string,
  offer: string,
  headers: Record<string, string> = {},
): Promise<{ answer: string; location: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...headers }, body: offer }).catch((err: Error) => {
    // undici says only "fetch failed"; what failed (refused, reset, a connect timeout) is its cause.
    const cause = err.cause as (Error & { code?: string }) | undefined;
    throw new Error(`POST ${url}: ${err.message}${cause ? ` (${[cause.code, cause.message].filter(Boolean).join(': ')})` : ''}`, { cause: err });
  });
  const body = await res.text();
  if (res.status !== 201) throw new HttpStatusError(res.status, body);
  const location = res.headers.get('Location');
  if (!location) throw new Error('201 without a Location header');
  return { answer: body, location: new URL(location, url).toString() };
}
