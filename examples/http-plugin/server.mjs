// An example remote (http) Gatehouse plugin: refuses usernames found in a blocklist file and logs every
// committed user event. Run it, then register it:
//
//   GATEHOUSE_PLUGIN_SECRET=whsec_… node examples/http-plugin/server.mjs   (the secret comes from the register answer;
//                                                                            restart the plugin with it)
//   curl -X POST $BASE/api/plugins -H "Authorization: Bearer $GATEHOUSE_TOKEN" -H 'Content-Type: application/json' \
//     -d '{"kind":"http","url":"http://127.0.0.1:9400/hook","manifest":{"name":"blocklist","version":"1.0.0",
//          "hooks":{"before":["user.create","user.update"],"after":["user.*"]},"timeout_ms":500,"failure_policy":"fail"}}'
//
// Gatehouse signs every call with the Standard Webhooks scheme; this server verifies the signature with the
// `standardwebhooks` package before trusting the body. (http://127.0.0.1 targets need
// webhooks.allow_private_targets in Gatehouse's settings; in production use https.)
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.PORT ?? 9400);
const secret = process.env.GATEHOUSE_PLUGIN_SECRET;
const blocked = new Set((process.env.BLOCKED_USERNAMES ?? 'root,admin2,postmaster').split(','));
const verifier = secret ? new Webhook(secret) : null;

createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    let call;
    try {
      call = verifier ? verifier.verify(raw, req.headers) : JSON.parse(raw);
    } catch {
      res.writeHead(401).end();
      return;
    }
    if (call.hook === 'before') {
      const username = String(call.input?.username ?? '');
      const verdict = blocked.has(username)
        ? { allow: false, reason: `${username} is blocklisted` }
        : { allow: true };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(verdict));
      return;
    }
    if (call.hook === 'after')
      console.log(`${call.event.timestamp} ${call.event.type} ${JSON.stringify(call.event.data)}`);
    res.writeHead(204).end();
  });
}).listen(port, '127.0.0.1', () => console.log(`example plugin on http://127.0.0.1:${port}/hook`));
