// tests/frontend/sdk/identity/devhost-apikey.mjs — owned by the dev-host identity test
// (tests/host/identity_devhost.sh, devhost-identity.mjs): a STAND-IN service that takes an API
// key (not a real service; its answers say so), for the sample agent's api_key_resource tool,
// whose key silod's token vault holds (an ApiKeyCredentialProvider). On 127.0.0.1, any port;
// the agent in its microVM reaches it through silod's egress and QEMU's forward to this
// machine. (The bearer-token resource is the host suite's host-resource.mjs; this one only adds
// what that one has no use for.)
//   GET /status with `X-Api-Key: K`: 200 {service, apiKey: "valid"} when K is the key given at
//   start, else 401 {error}. Every call is recorded in `calls` ({at, remote, presented, ok}),
//   never the key itself.
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export async function startApiKeyService({ apiKey }) {
  const calls = [];
  const server = http.createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'silo devhost STAND-IN API-key service', ...body }));
    };
    if (req.method !== 'GET' || new URL(req.url, 'http://s').pathname !== '/status') return send(404, { error: 'no such path' });
    const key = req.headers['x-api-key'];
    const ok = typeof key === 'string' && key.length === apiKey.length && timingSafeEqual(Buffer.from(key), Buffer.from(apiKey));
    calls.push({ at: Date.now(), remote: req.socket.remoteAddress, presented: key !== undefined, ok });
    return ok ? send(200, { apiKey: 'valid' }) : send(401, { error: key === undefined ? 'no API key' : 'wrong API key' });
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port, calls,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
