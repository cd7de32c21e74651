// tests/frontend/sdk/control.test.mjs — @aws-sdk/client-bedrock-agentcore-control drives the
// whole runtime / version / endpoint lifecycle against silod (fake VMM, test image builder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateAgentRuntimeCommand, GetAgentRuntimeCommand, ListAgentRuntimesCommand,
  UpdateAgentRuntimeCommand, DeleteAgentRuntimeCommand, ListAgentRuntimeVersionsCommand,
  CreateAgentRuntimeEndpointCommand, GetAgentRuntimeEndpointCommand,
  UpdateAgentRuntimeEndpointCommand, DeleteAgentRuntimeEndpointCommand,
  ListAgentRuntimeEndpointsCommand, paginateListAgentRuntimes,
  ResourceNotFoundException, ValidationException, ConflictException,
  TagResourceCommand, UntagResourceCommand, ListTagsForResourceCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import {
  control, data, accountId, region, imageV1, imageV2, testDir, uniqueName, baseRuntime, waitFor,
  sessionId,
} from './lib.mjs';

const name = uniqueName('lifecycle');
const token = `silo-test-token-${Date.now()}-aaaaaaaaaaaaaaaaaaaaaaaa`;
let id, arn;

const get = (extra = {}) => control.send(new GetAgentRuntimeCommand({ agentRuntimeId: id, ...extra }));
const getEndpoint = (endpointName) =>
  control.send(new GetAgentRuntimeEndpointCommand({ agentRuntimeId: id, endpointName }));

async function whoami(qualifier) {
  const r = await data.send(new InvokeAgentRuntimeCommand({
    agentRuntimeArn: arn, qualifier, runtimeSessionId: sessionId(), payload: Buffer.from('whoami'),
  }));
  return JSON.parse(await r.response.transformToString());
}

test('control: CreateAgentRuntime answers 202 with an id, an ARN and version 1, CREATING', async () => {
  const r = await control.send(new CreateAgentRuntimeCommand({ ...baseRuntime(name), clientToken: token }));
  id = r.agentRuntimeId;
  arn = r.agentRuntimeArn;
  assert.equal(r.$metadata.httpStatusCode, 202);
  assert.match(r.agentRuntimeId, new RegExp(`^${name}-[a-zA-Z0-9]{10}$`));
  assert.equal(r.agentRuntimeArn, `arn:aws:bedrock-agentcore:${region}:${accountId}:runtime/${r.agentRuntimeId}`);
  assert.equal(r.agentRuntimeVersion, '1');
  assert.ok(['CREATING', 'READY'].includes(r.status), r.status);
  assert.ok(r.createdAt instanceof Date && Math.abs(r.createdAt - Date.now()) < 60000, String(r.createdAt));
  assert.match(r.workloadIdentityDetails?.workloadIdentityArn ?? '', /^arn:aws:bedrock-agentcore:.*:workload-identity-directory\/default\/workload-identity\//);
  assert.ok(r.$metadata.requestId, 'x-amzn-requestid is answered');
});

test('control: the version becomes READY once the image builder succeeded; Get has the whole shape', async () => {
  const g = await waitFor(get, (x) => x.status === 'READY', 'READY');
  assert.equal(g.agentRuntimeName, name);
  assert.equal(g.agentRuntimeVersion, '1');
  assert.equal(g.roleArn, `arn:aws:iam::${accountId}:role/silo-test`);
  assert.deepEqual(g.lifecycleConfiguration, { idleRuntimeSessionTimeout: 900, maxLifetime: 28800 });
  assert.deepEqual(g.agentRuntimeArtifact, { containerConfiguration: { containerUri: imageV1 } });
  assert.equal(g.protocolConfiguration?.serverProtocol, 'HTTP');
  assert.equal(g.networkConfiguration?.networkMode, 'PUBLIC');
  assert.ok(g.lastUpdatedAt instanceof Date);
});

test('control: a repeated Create with the same clientToken is idempotent; other parameters conflict', async () => {
  const again = await control.send(new CreateAgentRuntimeCommand({ ...baseRuntime(name), clientToken: token }));
  assert.equal(again.agentRuntimeId, id);
  await assert.rejects(
    control.send(new CreateAgentRuntimeCommand({ ...baseRuntime(name), description: 'other', clientToken: token })),
    (e) => e instanceof ConflictException && e.$metadata.httpStatusCode === 409);
});

test('control: invalid requests are ValidationException (400) with a message', async () => {
  await assert.rejects(control.send(new CreateAgentRuntimeCommand(baseRuntime('9starts_with_digit'))),
    (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400 && /agentRuntimeName/.test(e.message));
  await assert.rejects(control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('lc'), {
    lifecycleConfiguration: { idleRuntimeSessionTimeout: 3000, maxLifetime: 600 },
  }))), (e) => e instanceof ValidationException);
  await assert.rejects(control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('hdr'), {
    requestHeaderConfiguration: { requestHeaderAllowlist: ['X-Amz-Security-Token'] },
  }))), (e) => e instanceof ValidationException);
  await assert.rejects(control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('jwt'), {
    authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: 'https://idp.example/no-well-known' } },
  }))), (e) => e instanceof ValidationException);
});

test('control: networkConfiguration is optional (PUBLIC); a malformed id is ValidationException with a reason', async () => {
  const { networkConfiguration, ...req } = baseRuntime(uniqueName('nonet'));
  assert.ok(networkConfiguration);
  const c = await control.send(new CreateAgentRuntimeCommand(req));
  const g = await control.send(new GetAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
  assert.equal(g.networkConfiguration?.networkMode, 'PUBLIC');
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
  await assert.rejects(control.send(new GetAgentRuntimeCommand({ agentRuntimeId: 'not_an_id' })),
    (e) => e instanceof ValidationException && e.$metadata.httpStatusCode === 400 && e.reason === 'FieldValidationFailed');
});

test('control: tags on create, TagResource, UntagResource, ListTagsForResource', async () => {
  const c = await control.send(new CreateAgentRuntimeCommand({ ...baseRuntime(uniqueName('tags')), tags: { team: 'a', env: 'dev' } }));
  const arn = c.agentRuntimeArn;
  assert.deepEqual((await control.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { env: 'dev', team: 'a' });
  await control.send(new TagResourceCommand({ resourceArn: arn, tags: { team: 'b', cost: '1' } }));
  await control.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['env', 'cost'] }));
  assert.deepEqual((await control.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags, { team: 'b' });
  await assert.rejects(control.send(new ListTagsForResourceCommand({ resourceArn: arn.replace(/-[A-Za-z0-9]{10}$/, '-ZZZZZZZZZZ') })),
    (e) => e instanceof ResourceNotFoundException);
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: c.agentRuntimeId }));
});

test('control: a missing runtime is ResourceNotFoundException (404)', async () => {
  await assert.rejects(control.send(new GetAgentRuntimeCommand({ agentRuntimeId: 'nosuch-AAAAAAAAAA' })),
    (e) => e instanceof ResourceNotFoundException && e.$metadata.httpStatusCode === 404);
});

test('control: ListAgentRuntimes pages with maxResults and nextToken', async () => {
  const other = await control.send(new CreateAgentRuntimeCommand(baseRuntime(uniqueName('listed'))));
  const first = await control.send(new ListAgentRuntimesCommand({ maxResults: 1 }));
  assert.equal(first.agentRuntimes.length, 1);
  assert.ok(first.nextToken, 'a nextToken with more to come');
  const seen = [];
  for await (const page of paginateListAgentRuntimes({ client: control, pageSize: 1 }, {}))
    seen.push(...page.agentRuntimes);
  const ids = seen.map((r) => r.agentRuntimeId);
  assert.ok(ids.includes(id) && ids.includes(other.agentRuntimeId), ids.join(','));
  assert.equal(new Set(ids).size, ids.length, 'no runtime listed twice');
  const mine = seen.find((r) => r.agentRuntimeId === id);
  assert.equal(mine.agentRuntimeArn, arn);
  assert.equal(mine.agentRuntimeName, name);
  assert.ok(mine.lastUpdatedAt instanceof Date);
  await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: other.agentRuntimeId }));
});

test('control: UpdateAgentRuntime makes immutable version 2; DEFAULT follows it', async () => {
  const u = await control.send(new UpdateAgentRuntimeCommand({
    ...baseRuntime(undefined), agentRuntimeName: undefined, agentRuntimeId: id,
    agentRuntimeArtifact: { containerConfiguration: { containerUri: imageV2 } },
    description: 'second version',
  }));
  assert.equal(u.$metadata.httpStatusCode, 202);
  assert.equal(u.agentRuntimeVersion, '2');
  assert.ok(u.lastUpdatedAt instanceof Date);
  const g = await waitFor(get, (x) => x.status === 'READY' && x.agentRuntimeVersion === '2', 'v2 READY');
  assert.equal(g.agentRuntimeArtifact.containerConfiguration.containerUri, imageV2);
  const v1 = await get({ agentRuntimeVersion: '1' });
  assert.equal(v1.agentRuntimeVersion, '1');
  assert.equal(v1.agentRuntimeArtifact.containerConfiguration.containerUri, imageV1, 'version 1 unchanged');
  const d = await waitFor(() => getEndpoint('DEFAULT'), (e) => e.liveVersion === '2', 'DEFAULT on v2');
  assert.equal(d.status, 'READY');
  assert.equal(d.agentRuntimeEndpointArn, `${arn}/runtime-endpoint/DEFAULT`);
  assert.equal(d.agentRuntimeArn, arn);
});

test('control: ListAgentRuntimeVersions lists 1 and 2', async () => {
  const l = await control.send(new ListAgentRuntimeVersionsCommand({ agentRuntimeId: id }));
  assert.deepEqual(l.agentRuntimes.map((v) => v.agentRuntimeVersion).sort(), ['1', '2']);
  assert.ok(l.agentRuntimes.every((v) => v.status === 'READY' && v.agentRuntimeId === id));
});

test('control: an endpoint pinned to v1 serves v1 while DEFAULT serves v2', async () => {
  const c = await control.send(new CreateAgentRuntimeEndpointCommand({
    agentRuntimeId: id, name: 'pinned', agentRuntimeVersion: '1', description: 'stays on v1',
  }));
  assert.equal(c.$metadata.httpStatusCode, 202);
  assert.equal(c.targetVersion, '1');
  assert.equal(c.agentRuntimeEndpointArn, `${arn}/runtime-endpoint/pinned`);
  assert.equal(c.endpointName, 'pinned');
  const e = await waitFor(() => getEndpoint('pinned'), (x) => x.status === 'READY', 'pinned READY');
  assert.equal(e.liveVersion, '1');
  assert.equal(e.name, 'pinned');
  assert.ok(e.id && e.createdAt instanceof Date && e.lastUpdatedAt instanceof Date);
  assert.match((await whoami('pinned')).image, new RegExp(` v1 from ${imageV1}$`));
  assert.match((await whoami('DEFAULT')).image, new RegExp(` v2 from ${imageV2}$`));
});

test('control: UpdateAgentRuntimeEndpoint moves pinned to v2, and rollback brings it back to v1', async () => {
  const u = await control.send(new UpdateAgentRuntimeEndpointCommand({
    agentRuntimeId: id, endpointName: 'pinned', agentRuntimeVersion: '2',
  }));
  assert.equal(u.$metadata.httpStatusCode, 202);
  await waitFor(() => getEndpoint('pinned'), (x) => x.liveVersion === '2' && x.status === 'READY', 'pinned on v2');
  assert.match((await whoami('pinned')).image, / v2 from /);
  await control.send(new UpdateAgentRuntimeEndpointCommand({
    agentRuntimeId: id, endpointName: 'pinned', agentRuntimeVersion: '1',
  }));
  await waitFor(() => getEndpoint('pinned'), (x) => x.liveVersion === '1' && x.status === 'READY', 'rolled back');
  assert.match((await whoami('pinned')).image, / v1 from /);
  await assert.rejects(control.send(new UpdateAgentRuntimeEndpointCommand({
    agentRuntimeId: id, endpointName: 'pinned', agentRuntimeVersion: '99',
  })), (e) => e.$metadata.httpStatusCode >= 400 && e.$metadata.httpStatusCode < 500);
});

test('control: ListAgentRuntimeEndpoints lists DEFAULT and pinned', async () => {
  const l = await control.send(new ListAgentRuntimeEndpointsCommand({ agentRuntimeId: id }));
  const byName = Object.fromEntries(l.runtimeEndpoints.map((e) => [e.name, e]));
  assert.deepEqual(Object.keys(byName).sort(), ['DEFAULT', 'pinned']);
  assert.equal(byName.DEFAULT.liveVersion, '2');
  assert.equal(byName.pinned.liveVersion, '1');
});

test('control: a version whose image does not build is UPDATE_FAILED with a reason; DEFAULT stays on v2', async () => {
  const u = await control.send(new UpdateAgentRuntimeCommand({
    ...baseRuntime(undefined), agentRuntimeName: undefined, agentRuntimeId: id,
    agentRuntimeArtifact: { containerConfiguration: { containerUri: `${testDir}/no-such-image` } },
  }));
  assert.equal(u.agentRuntimeVersion, '3');
  const v3 = await waitFor(() => get({ agentRuntimeVersion: '3' }), (x) => x.status !== 'UPDATING', 'v3 built');
  assert.equal(v3.status, 'UPDATE_FAILED');
  assert.ok(v3.failureReason, 'failureReason is given');
  const d = await getEndpoint('DEFAULT');
  assert.equal(d.liveVersion, '2', 'DEFAULT never moves to a broken version');
  assert.match((await whoami('DEFAULT')).image, / v2 from /);
});

test('control: DeleteAgentRuntimeEndpoint, then DeleteAgentRuntime; both are gone afterwards', async () => {
  const de = await control.send(new DeleteAgentRuntimeEndpointCommand({ agentRuntimeId: id, endpointName: 'pinned' }));
  assert.equal(de.$metadata.httpStatusCode, 202);
  await waitFor(() => getEndpoint('pinned').then(() => 'exists', (e) => e.name),
    (x) => x === 'ResourceNotFoundException', 'endpoint gone');
  const d = await control.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: id }));
  assert.equal(d.$metadata.httpStatusCode, 202);
  assert.equal(d.status, 'DELETING');
  await waitFor(() => get().then(() => 'exists', (e) => e.name), (x) => x === 'ResourceNotFoundException', 'runtime gone');
  await assert.rejects(whoami('DEFAULT'), (e) => e.name === 'ResourceNotFoundException');
});
