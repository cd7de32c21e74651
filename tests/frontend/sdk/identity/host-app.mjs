// tests/frontend/sdk/identity/host-app.mjs — owned by the x86 identity host suite
// (tests/host/identity_host.sh, host-identity.mjs). The APPLICATION behind the 3LO return URL
// (the workload identity's allowedResourceOauth2ReturnUrls), as a real app would be:
//   GET /login?user=NAME   the app's own sign-in (a cookie naming its logged-in user);
//   GET /oauth2/return     where silod's callback sends the browser, with
//                          ?session_id=<sessionUri>[&state=<customState>]: the app takes its
//                          logged-in user from the cookie and calls CompleteResourceTokenAuth
//                          (the real @aws-sdk/client-bedrock-agentcore, silod's admin keys)
//                          with {sessionUri, userIdentifier: {userId: <that user>}}; the page
//                          says "completed for NAME" (200) or "refused: <error name>" (403);
//   GET /harness/callback  the suite's self-check redirect URI (no silod): records the code;
//   GET /elsewhere         a page that is NOT allow-listed (silod must never send anyone here).
// Every arrival is recorded in `arrivals` ({path, query, user, outcome, errorName, message}).
import http from 'node:http';
import { CompleteResourceTokenAuthCommand } from '@aws-sdk/client-bedrock-agentcore';

export async function startApp({ dataClient }) {
  const arrivals = [];
  const waiters = new Set();
  const record = (a) => {
    arrivals.push(a);
    for (const w of waiters) if (w.pred(a)) { waiters.delete(w); clearTimeout(w.timer); w.resolve(a); }
  };
  const cookieUser = (req) => /(?:^|;\s*)app_user=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://app');
    const q = Object.fromEntries(url.searchParams);
    const page = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(`<!doctype html><html><body><p id="result">${text.replace(/[<>&]/g, '')}</p></body></html>`);
    };
    try {
      if (url.pathname === '/login') {
        const user = q.user;
        if (!/^[a-z]+$/.test(user ?? '')) return page(400, 'bad user');
        return page(200, `logged in as ${user}`, { 'set-cookie': `app_user=${user}; Path=/; HttpOnly; SameSite=Lax` });
      }
      if (url.pathname === '/oauth2/return') {
        const user = cookieUser(req);
        const a = { path: url.pathname, query: q, user, at: Date.now() };
        if (!user) { record({ ...a, outcome: 'not logged in' }); return page(401, 'not logged in'); }
        if (!q.session_id) { record({ ...a, outcome: 'no session_id' }); return page(400, 'no session_id'); }
        try {
          await dataClient.send(new CompleteResourceTokenAuthCommand({
            sessionUri: q.session_id, userIdentifier: { userId: user },
          }), { abortSignal: AbortSignal.timeout(15000) });
          record({ ...a, outcome: 'completed' });
          return page(200, `completed for ${user}`);
        } catch (e) {
          record({ ...a, outcome: 'refused', errorName: e.name, status: e.$metadata?.httpStatusCode, message: e.message });
          return page(403, `refused: ${e.name}`);
        }
      }
      if (url.pathname === '/harness/callback') {
        record({ path: url.pathname, query: q, outcome: 'harness', at: Date.now() });
        return page(200, 'harness got its code');
      }
      if (url.pathname === '/elsewhere') {
        record({ path: url.pathname, query: q, outcome: 'elsewhere', at: Date.now() });
        return page(200, 'elsewhere');
      }
      return page(404, 'not found');
    } catch (e) {
      page(500, `error ${e.message}`);
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base, arrivals,
    returnUrl: `${base}/oauth2/return`,
    harnessRedirect: `${base}/harness/callback`,
    elsewhereUrl: `${base}/elsewhere`,
    /** the first arrival (already here or still to come) that pred accepts; rejects after ms */
    waitArrival(pred, ms = 20000) {
      const seen = arrivals.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve, timer: setTimeout(() => { waiters.delete(w); reject(new Error(`no app arrival matched within ${ms} ms; arrivals: ${JSON.stringify(arrivals.map((x) => ({ path: x.path, user: x.user, outcome: x.outcome, errorName: x.errorName })))}`)); }, ms) };
        waiters.add(w);
      });
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
