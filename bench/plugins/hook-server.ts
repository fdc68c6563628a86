/**
 * The http plugin for `bench/plugins.ts`: a bare `node:http` server that answers every before-hook call
 * `{"allow":true}` as soon as the body has arrived, without verifying the signature (the bench measures what
 * Gatehouse spends on the call, not what a plugin spends on its checks). `GET /count` answers the number of
 * calls so far, so the bench can check that every POST /api/users went through the hook.
 *
 * Run in its own process, so its CPU is accounted apart: `PORT=... HOST=127.0.0.1 tsx bench/plugins/hook-server.ts`.
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';
const allow = JSON.stringify({ allow: true });
let calls = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ calls }));
    return;
  }
  req.on('data', () => undefined);
  req.on('end', () => {
    calls += 1;
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(allow) })
      .end(allow);
  });
});
// Longer than undici's keep-alive (10 s in Gatehouse's outbound Agent), so the server never closes first.
server.keepAliveTimeout = 72_000;

server.listen(port, host, () => process.stdout.write(`hook server listening on http://${host}:${port}\n`));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
