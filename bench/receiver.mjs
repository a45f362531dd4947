// make bench: a webhook receiver on 127.0.0.1 that answers 200 at once and
// keeps, for each delivery, the time from its event to its arrival
// (Date.now() - the body's timestamp). Prints its port on stdout.
//   GET /stats  -> {"count","p50Ms","p99Ms"} since the last reset
//   POST /reset -> forgets them
// Stops by itself after BENCH_RECEIVER_SECONDS (default 900).
import http from 'node:http';

let latencies = [];
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const sorted = [...latencies].sort((a, b) => a - b);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ count: sorted.length, p50Ms: pct(sorted, 50), p99Ms: pct(sorted, 99) }));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    latencies = [];
    res.writeHead(204);
    res.end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    try {
      const at = Date.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')).timestamp);
      if (!Number.isNaN(at)) latencies.push(Date.now() - at);
    } catch {
      /* not a webhook: not counted */
    }
    res.writeHead(200);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
setTimeout(() => process.exit(0), Number(process.env.BENCH_RECEIVER_SECONDS || 900) * 1000).unref();
