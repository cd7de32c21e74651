// tests/frontend/sdk/identity/host-resource.mjs — owned by the x86 identity host suite
// (tests/host/identity_host.sh, host-identity.mjs). A small PROTECTED RESOURCE on loopback: it
// accepts a request only with a bearer access token that the resource provider
// (host-provider.mjs) says is active, by calling that provider's introspection endpoint with
// the resource's own client credentials, and only for the right principal and scope:
//   GET /users/<name>/profile  a user's data: token active, scope has RESOURCE_SCOPE, issued
//                              through the 3LO client, and its subject is <name>;
//   GET /service/status        machine data: token active, scope has RESOURCE_SCOPE, a
//                              client_credentials token of one of the allowed M2M clients.
// Answers 200 {ok, sub, client_id, scope}, or 401 (no/unknown/inactive token) / 403 (wrong
// user, client or scope) with {error}. Counts introspections (`introspections`).
import http from 'node:http';

export async function startResource({ provider, scope, userClientIds, serviceClientIds }) {
  const stats = { introspections: 0, accepted: 0, refused: 0 };
  const basic = `Basic ${Buffer.from(`${provider.clients.resource.id}:${provider.clients.resource.secret}`).toString('base64')}`;

  async function introspect(token) {
    stats.introspections++;
    const res = await fetch(provider.introspectionEndpoint, {
      method: 'POST', signal: AbortSignal.timeout(10000),
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    if (res.status !== 200) throw new Error(`introspection answered ${res.status}: ${await res.text()}`);
    return res.json();
  }

  const server = http.createServer(async (req, res) => {
    const answer = (status, body) => {
      if (status === 200) stats.accepted++; else stats.refused++;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const url = new URL(req.url, 'http://resource');
      const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
      if (!m) return answer(401, { error: 'no bearer token' });
      const info = await introspect(m[1]);
      if (!info.active) return answer(401, { error: 'token not active' });
      const scopes = new Set(String(info.scope ?? '').split(' '));
      if (!scopes.has(scope)) return answer(403, { error: `scope ${scope} missing (has "${info.scope ?? ''}")` });
      const who = { sub: info.sub, client_id: info.client_id, scope: info.scope };
      const user = /^\/users\/([^/]+)\/profile$/.exec(url.pathname);
      if (user) {
        if (!userClientIds.includes(info.client_id)) return answer(403, { error: `client ${info.client_id} may not read user data`, ...who });
        if (info.sub !== decodeURIComponent(user[1])) return answer(403, { error: `token of ${info.sub}, not ${user[1]}`, ...who });
        return answer(200, { ok: true, profile: `profile of ${info.sub}`, ...who });
      }
      if (url.pathname === '/service/status') {
        if (info.sub) return answer(403, { error: 'a user token is not a service token', ...who });
        if (!serviceClientIds.includes(info.client_id)) return answer(403, { error: `client ${info.client_id} not allowed`, ...who });
        return answer(200, { ok: true, status: 'green', ...who });
      }
      return answer(404, { error: 'no such resource' });
    } catch (e) {
      answer(500, { error: e.message });
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;

  /** GET path with token (or none); { status, body } */
  async function call(path, token) {
    const res = await fetch(`${base}${path}`, {
      signal: AbortSignal.timeout(15000), headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: await res.json() };
  }
  return {
    base, stats, call,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
