// Load generator as its own process: POSTs `rate` requests a second for `seconds` to `url`,
// then prints a JSON summary of the status codes. Used to check the server stays healthy.
//   node --import tsx test/helpers/load.ts URL RATE SECONDS

const [url, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const statuses: Record<string, number> = {};
const inFlight: Promise<void>[] = [];
const start = performance.now();
const perTick = rate / 10;
for (let tick = 0; tick < seconds * 10; tick++) {
  for (let i = 0; i < perTick; i++) {
    inFlight.push(
      fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: 'v=0\r\n' })
        .then(async (r) => {
          await r.arrayBuffer();
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        })
        .catch((e: Error) => {
          statuses[e.name] = (statuses[e.name] ?? 0) + 1;
        }),
    );
  }
  await new Promise((r) => setTimeout(r, Math.max(0, start + (tick + 1) * 100 - performance.now())));
}
await Promise.all(inFlight);
console.log(JSON.stringify({ statuses, seconds: (performance.now() - start) / 1000 }));
