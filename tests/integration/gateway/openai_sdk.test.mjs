// The official `openai` npm SDK, used the way an application would, against girder's
// gateway in front of the mock upstream. Run by CTest: node --test openai_sdk.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { start } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.GIRDER_SRC || path.resolve(here, '../../..');
const { default: OpenAI } = await import(
  pathToFileURL(path.join(src, 'tests/node/node_modules/openai/index.mjs')).href);
const TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';

let mock, girder, client, direct;
before(async () => {
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  const mport = m.m[1];
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-node-'));
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: mock, base_url: "http://127.0.0.1:${mport}/v1", first_byte_timeout_ms: 2000}
models:
  - alias: chat
    deployments: [{provider: mock, model: ok-node}]
  - alias: emb
    deployments: [{provider: mock, model: emb-node}]
  - alias: bad
    deployments: [{provider: mock, model: err400}]
  - alias: broken
    deployments: [{provider: mock, model: "reset:4"}]
`);
  const g = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = g.p;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${g.m[1]}/v1`, apiKey: 'k', maxRetries: 0 });
  direct = new OpenAI({ baseURL: `http://127.0.0.1:${mport}/v1`, apiKey: 'k', maxRetries: 0 });
});

after(() => {
  girder?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

test('chat completion', async () => {
  const r = await client.chat.completions.create({
    model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, TEXT);
  assert.equal(r.model, 'ok-node');
  assert.equal(r.usage.prompt_tokens, 9);
});

async function collect(c, model) {
  const stream = await c.chat.completions.create({
    model, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'hi' }] });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

test('streaming chat reassembles exactly what the upstream sent', async () => {
  const via = await collect(client, 'chat');
  const straight = await collect(direct, 'ok-node');
  const text = via.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, TEXT);
  assert.deepEqual(via, straight);
  assert.equal(via.at(-1).usage.completion_tokens, straight.at(-1).usage.completion_tokens);
});

test('embeddings', async () => {
  const r = await client.embeddings.create({ model: 'emb', input: ['a', 'bcd'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].embedding.length, 8);
});

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids.sort(), ['bad', 'broken', 'chat', 'emb']);
});

test('models retrieve', async () => {
  const m = await client.models.retrieve('chat');
  assert.equal(m.id, 'chat');
  assert.equal(m.object, 'model');
  await assert.rejects(client.models.retrieve('nope'),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
});

test('unknown model surfaces as NotFoundError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope', messages: [] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
});

test('upstream 400 surfaces as BadRequestError with the upstream message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'bad', messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && /mock: bad request/.test(e.message));
});

test('upstream reset mid-stream surfaces as an APIError, not a hang', async () => {
  const got = [];
  await assert.rejects(async () => {
    const s = await client.chat.completions.create({ model: 'broken', stream: true,
                                                     messages: [] });
    for await (const c of s) got.push(c);
  }, (e) => e instanceof OpenAI.APIError && /upstream stream broken/.test(e.message));
  assert.equal(got.length, 4);
});
