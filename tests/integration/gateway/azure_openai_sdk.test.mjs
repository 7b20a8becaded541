// The official `openai` npm SDK against girder in front of azure_upstream.py (a local server
// speaking and validating Azure OpenAI's deployment API): provider `type: azure`.
// The SDK's own AzureOpenAI client checks first that the local server takes what real Azure
// takes; then the plain OpenAI client goes through girder (own client and libcurl).
// Run by CTest: node --test azure_openai_sdk.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { start } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.GIRDER_SRC || path.resolve(here, '../../..');
const { default: OpenAI, AzureOpenAI } = await import(
  pathToFileURL(path.join(src, 'tests/node/node_modules/openai/index.mjs')).href);
// What azure_upstream.py answers (TEXT there).
const TEXT = 'Hello from Azure! Streaming "works", chunk by chunk — ünïcode too.\nThe end.';
const KEY = 'az-key-test';
const TOKEN = 'entra-token-test';
const VERSION = '2024-10-21';

let az, girder, client, base, azBase;
before(async () => {
  const a = await start(['/usr/bin/python3', path.join(here, 'azure_upstream.py'),
                         '--key', KEY, '--token', TOKEN], /PORT (\d+)/);
  az = a.p;
  azBase = `http://127.0.0.1:${a.m[1]}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-azure-'));
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: az, type: azure, base_url: "${azBase}/", api_version: ${VERSION},
     api_key: ${KEY}, first_byte_timeout_ms: 2000}
  - {name: az-curl, type: azure, client: curl, base_url: "${azBase}",
     api_version: 2024-12-01-preview, api_key: ${KEY}}
  - {name: az-entra, type: azure, auth: entra, base_url: "${azBase}", api_version: ${VERSION},
     api_key: ${TOKEN}}
  - {name: az-badkey, type: azure, base_url: "${azBase}", api_version: ${VERSION},
     api_key: wrong}
  - {name: az-nokey, type: azure, base_url: "${azBase}", api_version: ${VERSION}}
  - {name: az-oldver, type: azure, base_url: "${azBase}", api_version: 2022-12-01,
     api_key: ${KEY}}
models:
  - {alias: chat, deployments: [{provider: az, model: gpt-4o}]}
  - {alias: chat-curl, deployments: [{provider: az-curl, model: gpt-4o}]}
  - {alias: filtered, deployments: [{provider: az, model: gpt-4o-filtered}]}
  - {alias: filtered-curl, deployments: [{provider: az-curl, model: gpt-4o-filtered}]}
  - {alias: embed, deployments: [{provider: az, model: text-embedding-3-small}]}
  - {alias: embed-curl, deployments: [{provider: az-curl, model: text-embedding-3-small}]}
  - {alias: instruct, deployments: [{provider: az, model: gpt-35-turbo-instruct}]}
  - {alias: entra, deployments: [{provider: az-entra, model: gpt-4o}]}
  - {alias: badkey, deployments: [{provider: az-badkey, model: gpt-4o}]}
  - {alias: nokey, deployments: [{provider: az-nokey, model: gpt-4o}]}
  - {alias: oldver, deployments: [{provider: az-oldver, model: gpt-4o}]}
  - {alias: nodeployment, deployments: [{provider: az, model: gpt-5-not-deployed}]}
  - {alias: wrongop, deployments: [{provider: az, model: text-embedding-3-small}]}
`);
  const g = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = g;
  base = `http://127.0.0.1:${g.m[1]}`;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0 });
});

after(() => {
  girder?.p.kill('SIGTERM');
  az?.kill('SIGTERM');
});

async function stats() {
  return (await fetch(`${azBase}/_stats`)).json();
}

test('the local server takes what the SDK sends to Azure, and refuses what Azure refuses',
     async () => {
  const azure = new AzureOpenAI({ endpoint: azBase, apiKey: KEY, apiVersion: VERSION,
                                  maxRetries: 0 });
  const r = await azure.chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, TEXT);
  const e = await azure.embeddings.create({ model: 'text-embedding-3-small', input: 'abc' });
  assert.deepEqual(e.data[0].embedding, [3, 0.5, -0.25, 0]);
  const last = (await stats()).last['gpt-4o'];
  assert.equal(last.headers['api-key'], KEY);
  assert.equal(last.query, `api-version=${VERSION}`);
  const post = (p, headers, body = '{"messages":[{"role":"user","content":"x"}]}') =>
    fetch(azBase + p, { method: 'POST', body,
                        headers: { 'content-type': 'application/json', ...headers } });
  const chat = '/openai/deployments/gpt-4o/chat/completions';
  let res = await post(chat, { 'api-key': KEY }); // no api-version
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: { code: '404', message: 'Resource not found' } });
  res = await post(`${chat}?api-version=${VERSION}`, {});
  assert.equal(res.status, 401);
  assert.match((await res.json()).error.message, /missing subscription key/);
  res = await post(`${chat}?api-version=${VERSION}`, { 'api-key': KEY },
                   '{"messages":[{"role":"user","content":"x"}],"bogus":1}');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /Unrecognized request argument.*bogus/);
});

for (const alias of ['chat', 'chat-curl']) {
  test(`chat through girder, content filter results untouched (${alias})`, async () => {
    const { data: r, response } = await client.chat.completions.create({
      model: alias, temperature: 0.2,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.content, TEXT);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.model, 'gpt-4o-2024-08-06');
    assert.deepEqual(r.usage, { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 });
    assert.equal(r.prompt_filter_results[0].content_filter_results.jailbreak.detected, false);
    assert.equal(r.choices[0].content_filter_results.hate.severity, 'safe');
    assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '99');
    const last = (await stats()).last['gpt-4o'];
    assert.equal(last.headers['api-key'], KEY);
    assert.equal(last.headers.authorization, undefined);
    assert.equal(last.query,
                 `api-version=${alias === 'chat' ? VERSION : '2024-12-01-preview'}`);
    assert.equal(last.body.model, 'gpt-4o'); // the deployment's name (Azure ignores it)
    assert.equal(last.body.temperature, 0.2);
    assert.equal(last.body.messages.length, 2);
  });

  test(`streaming reassembles exactly, usage counted (${alias})`, async () => {
    const stream = await client.chat.completions.create({
      model: alias, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }] });
    let text = '', finish = null, usage = null, n = 0, promptFilter = null;
    for await (const c of stream) {
      n++;
      if (c.usage) usage = c.usage;
      if (c.prompt_filter_results) promptFilter = c.prompt_filter_results;
      for (const ch of c.choices) {
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(text, TEXT);
    assert.ok(n > 5);
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 });
    assert.equal(promptFilter[0].prompt_index, 0);
  });
}

for (const alias of ['filtered', 'filtered-curl']) {
  test(`an answer cut by the content filter passes through (${alias})`, async () => {
    const r = await client.chat.completions.create({
      model: alias, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.choices[0].finish_reason, 'content_filter');
    assert.deepEqual(r.choices[0].content_filter_results.violence,
                     { filtered: true, severity: 'medium' });
    const stream = await client.chat.completions.create({
      model: alias, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let finish = null, cfr = null;
    for await (const c of stream) {
      for (const ch of c.choices) {
        if (ch.finish_reason) { finish = ch.finish_reason; cfr = ch.content_filter_results; }
      }
    }
    assert.equal(finish, 'content_filter');
    assert.equal(cfr.violence.filtered, true);
  });
}

for (const alias of ['embed', 'embed-curl']) {
  test(`embeddings go to the deployment's embeddings URL (${alias})`, async () => {
    const e = await client.embeddings.create({ model: alias, input: ['hello', 'hi'] });
    assert.equal(e.data.length, 2);
    assert.deepEqual(e.data[0].embedding, [5, 0.5, -0.25, 0]); // SDK decoded base64
    assert.deepEqual(e.data[1].embedding, [2, 0.5, -0.25, 1]);
    assert.equal(e.usage.prompt_tokens, 6);
    const last = (await stats()).last['text-embedding-3-small'];
    assert.equal(last.body.encoding_format, 'base64');
    assert.deepEqual(last.body.input, ['hello', 'hi']);
  });
}

test('legacy completions go to the deployment\'s completions URL', async () => {
  const r = await client.completions.create({ model: 'instruct', prompt: 'Say hello' });
  assert.equal(r.choices[0].text, TEXT);
  assert.equal((await stats()).last['gpt-35-turbo-instruct'].body.prompt, 'Say hello');
});

test('auth: entra sends the token as a bearer instead of api-key', async () => {
  const r = await client.chat.completions.create({
    model: 'entra', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, TEXT);
  const last = (await stats()).last['gpt-4o'];
  assert.equal(last.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(last.headers['api-key'], undefined);
});

test("Azure's errors come back with their status and body", async () => {
  const msg = [{ role: 'user', content: 'x' }];
  await assert.rejects(client.chat.completions.create({ model: 'badkey', messages: msg }),
                       (e) => e instanceof OpenAI.AuthenticationError && e.code === '401' &&
                              /invalid subscription key/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'nokey', messages: msg }),
                       (e) => e instanceof OpenAI.AuthenticationError &&
                              /missing subscription key/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'oldver', messages: msg }),
                       (e) => e instanceof OpenAI.NotFoundError && e.code === '404' &&
                              /Resource not found/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: 'nodeployment', messages: msg }),
                       (e) => e instanceof OpenAI.NotFoundError &&
                              e.code === 'DeploymentNotFound');
  await assert.rejects(client.chat.completions.create({ model: 'wrongop', messages: msg }),
                       (e) => e instanceof OpenAI.BadRequestError &&
                              e.code === 'OperationNotSupported');
  // a parameter Azure does not know is Azure's 400, not girder's
  await assert.rejects(client.chat.completions.create({ model: 'chat', messages: msg,
                                                        bogus_param: 1 }),
                       (e) => e instanceof OpenAI.BadRequestError &&
                              /Unrecognized request argument supplied: bogus_param/.test(
                                e.message));
});
