// tests/frontend/sdk/identity/devhost-app.mjs — owned by the dev-host identity test
// (tests/host/identity_devhost.sh, devhost-identity.mjs): the application behind the 3LO return
// URL, for users who sign in with a JWT. What an AgentCore customer runs so that a token
// obtained through a user's consent is bound to THAT user (reference §4.4, session binding). The
// host suite's host-app.mjs completes with `userId` (its users come with the User-Id header);
// here the agent's user is known by the JWT it was invoked with (silod's user iss|sub), so this
// app completes with the user's JWT (`userToken`), as a JWT-fronted application does.
// On this machine, 127.0.0.1:PORT, reached by the user's browser only.
//   GET /login?user=NAME   the user "signs in to the app" (a cookie naming NAME)
//   GET /return?session_id=URI[&state=S]   silod's callback redirects the browser here after the
//       provider's consent; the app takes the signed-in user from its cookie and calls
//       CompleteResourceTokenAuth {sessionUri: URI, userIdentifier: {userToken: that user's
//       JWT}} on silod (@aws-sdk/client-bedrock-agentcore, SigV4 with the app's admin key).
//       With `wrongUser` set it first tries to complete the session as that other user, which
//       must fail (the binding), and records what silod answered.
// Each completion is recorded in `completions`; `waitForCompletion()` resolves with the next one.
import http from 'node:http';
import { CompleteResourceTokenAuthCommand } from '@aws-sdk/client-bedrock-agentcore';

/** Starts the app. data: a BedrockAgentCoreClient on silod; userToken(name): a user's JWT. */
export async function startApp({ port = 0, data, userToken, wrongUser = null }) {
  const completions = [];
  const waiters = [];
  const complete = async (sessionUri, name) => {
    try {
      await data.send(new CompleteResourceTokenAuthCommand({ sessionUri, userIdentifier: { userToken: await userToken(name) } }));
      return { ok: true };
    } catch (e) {
      return { ok: false, error: `${e.name}: ${e.message}`, status: e.$metadata?.httpStatusCode ?? null };
    }
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://app');
    const page = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(`<!DOCTYPE html><title>devhost app</title><p id="result">${text.replace(/[<&>]/g, '')}</p>`);
    };
    if (url.pathname === '/login') {
      const user = url.searchParams.get('user') ?? '';
      if (!/^[a-z]{1,32}$/.test(user)) return page(400, 'bad user');
      return page(200, `signed in as ${user}`, { 'set-cookie': `devhost_user=${user}; Path=/; HttpOnly; SameSite=Lax` });
    }
    if (url.pathname === '/return') {
      const sessionUri = url.searchParams.get('session_id');
      const user = /(?:^|;\s*)devhost_user=([a-z]+)/.exec(req.headers.cookie ?? '')?.[1];
      const record = { at: Date.now(), sessionUri, state: url.searchParams.get('state'), user: user ?? null, query: [...url.searchParams.keys()] };
      if (!sessionUri || !user) {
        Object.assign(record, { ok: false, error: !sessionUri ? 'no session_id in the return URL' : 'no signed-in user' });
      } else {
        if (wrongUser) record.wrongUser = { name: wrongUser, ...(await complete(sessionUri, wrongUser)) };
        Object.assign(record, await complete(sessionUri, user));
      }
      completions.push(record);
      waiters.splice(0).forEach((w) => w(record));
      return page(record.ok ? 200 : 500, record.ok ? `authorization complete for ${user}` : `failed: ${record.error}`);
    }
    return page(404, 'not found');
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base, returnUrl: `${base}/return`, loginUrl: (user) => `${base}/login?user=${user}`, completions,
    waitForCompletion: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
