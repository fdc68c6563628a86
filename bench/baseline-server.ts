/**
 * The baseline for `bench/http.ts`: a bare `node:http` server that answers every request, whatever its
 * method or path, with 200 and a JSON body shaped like one Gatehouse user (about 200 bytes). It does
 * the least a JSON API must do per request: drain the request, serialize an object, send it.
 *
 * Run in its own process: `PORT=... HOST=127.0.0.1 tsx bench/baseline-server.ts`.
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

const user = {
  id: 'user_01m8g7gkxcfaq9w8bkxep08rhy',
  username: 'bench.baseline.user',
  email: null,
  display_name: null,
  kind: 'human',
  disabled: false,
  created_at: '2026-11-28T04:44:45.356Z',
  updated_at: '2026-11-28T04:44:45.356Z',
};

const server = createServer((req, res) => {
  req.resume();
  const body = JSON.stringify(user);
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
});
// The same keep-alive window as Gatehouse, so neither side closes autocannon's connections mid-run.
server.keepAliveTimeout = 72_000;

server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`baseline listening on http://${host}:${bound}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
