// The official `@anthropic-ai/sdk` npm package against girder's Anthropic-compatible
// POST /v1/messages, routed to an Anthropic deployment (anthropic_upstream.py, which speaks
// and validates the Messages API) and to an OpenAI-compatible one (mock_upstream.py).
// Run by CTest: node --test anthropic_sdk_messages.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { start } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.GIRDER_SRC || path.resolve(here, '../../..');
const { default: Anthropic } = await import(
  pathToFileURL(path.join(src, 'tests/node/node_modules/@anthropic-ai/sdk/index.mjs')).href);
const TEXT = 'Hello from Claude! Streaming "works", token by token — ünïcode too.\nThe end.';
const ARGS = '{"city": "Paris", "unit": "celsius"}';
const MOCK_TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';

let anth, mock, girder, client, aport;
before(async () => {
  const a = await start(['/usr/bin/python3', path.join(here, 'anthropic_upstream.py'),
                         '--key', 'sk-ant-test'], /PORT (\d+)/);
  anth = a.p;
  aport = a.m[1];
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-msgs-'));
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: claude, type: anthropic, base_url: "http://127.0.0.1:${aport}/v1",
     api_key: sk-ant-test}
  - {name: mock, base_url: "http://127.0.0.1:${m.m[1]}/v1"}
models:
  - alias: claude
    deployments: [{provider: claude, model: claude-ok}]
  - alias: tools
    deployments: [{provider: claude, model: claude-tools}]
  - alias: cut
    deployments: [{provider: claude, model: claude-cut}]
  - alias: oai
    deployments: [{provider: mock, model: ok-msgs}]
  - alias: oai-broken
    deployments: [{provider: mock, model: "reset:3"}]
  - alias: overloaded
    deployments: [{provider: claude, model: claude-overloaded}]
    retries: 0
    fallbacks: [oai]
`);
  girder = (await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/));
  client = new Anthropic({ baseURL: `http://127.0.0.1:${girder.m[1]}`, apiKey: 'client-key',
                           maxRetries: 0 });
});

after(() => {
  girder?.p.kill('SIGTERM');
  anth?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

async function stats() {
  return (await fetch(`http://127.0.0.1:${aport}/_stats`)).json();
}

const TOOLS = [{ name: 'get_weather', description: 'Current weather',
                 input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];

test('messages.create to an Anthropic deployment', async () => {
  const r = await client.messages.create({
    model: 'claude', max_tokens: 100, system: 'Be brief.',
    messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' },
               { role: 'user', content: 'again' }] });
  assert.equal(r.type, 'message');
  assert.equal(r.role, 'assistant');
  assert.equal(r.content[0].type, 'text');
  assert.equal(r.content[0].text, TEXT);
  assert.equal(r.stop_reason, 'end_turn');
  assert.deepEqual(r.usage, { input_tokens: 11, cache_creation_input_tokens: 1,
                              cache_read_input_tokens: 2, output_tokens: 7 });
  const last = (await stats()).last['claude-ok'];
  assert.deepEqual(last.body.system, [{ type: 'text', text: 'Be brief.' }]);
  assert.equal(last.body.max_tokens, 100);
  assert.equal(last.headers['x-api-key'], 'sk-ant-test'); // the provider's key, not the client's
});

test('messages.create to an OpenAI-compatible deployment', async () => {
  const r = await client.messages.create({
    model: 'oai', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.content[0].text, MOCK_TEXT);
  assert.equal(r.model, 'ok-msgs');
  assert.equal(r.usage.input_tokens, 9);
  assert.ok(r.usage.output_tokens > 0);
});

for (const [alias, want] of [['claude', TEXT], ['oai', MOCK_TEXT]]) {
  test(`streaming follows Anthropic's event sequence and reassembles exactly (${alias})`,
       async () => {
    const stream = await client.messages.create({
      model: alias, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const types = [];
    let text = '', usage = null;
    for await (const ev of stream) {
      if (types[types.length - 1] !== ev.type) types.push(ev.type);
      if (ev.type === 'content_block_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') usage = ev.usage;
    }
    assert.equal(text, want);
    // (the SDK does not hand out ping events; the raw sequence is checked below)
    assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta',
                             'content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(usage.output_tokens > 0);
    assert.equal(usage.input_tokens, alias === 'claude' ? 11 : 9);
  });
}

test('the raw stream: event lines name their data type, ping after message_start', async () => {
  const res = await fetch(`http://127.0.0.1:${girder.m[1]}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude', max_tokens: 5, stream: true,
                           messages: [{ role: 'user', content: 'hi' }] }) });
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = (await res.text()).split('\n\n').filter((e) => e);
  const names = events.map((e) => {
    const [ev, data] = e.split('\n');
    const name = ev.replace('event: ', '');
    assert.equal(JSON.parse(data.replace('data: ', '')).type, name);
    return name;
  });
  assert.deepEqual(names.slice(0, 3), ['message_start', 'ping', 'content_block_start']);
  assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
});

test('messages.stream helper: text events and the final message', async () => {
  const stream = client.messages.stream({
    model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const msg = await stream.finalMessage();
  assert.equal(text, TEXT);
  assert.equal(msg.content[0].text, TEXT);
  assert.equal(msg.usage.output_tokens, 7);
  assert.equal(msg.usage.input_tokens, 11);
});

test('tool use and tool results, non-streamed and streamed', async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client.messages.create({ model: 'tools', max_tokens: 50, tools: TOOLS,
                                           tool_choice: { type: 'auto' }, messages });
  assert.equal(r.stop_reason, 'tool_use');
  assert.equal(r.content[0].text, 'Let me look.');
  const use = r.content[1];
  assert.equal(use.type, 'tool_use');
  assert.equal(use.id, 'toolu_01A');
  assert.deepEqual(use.input, JSON.parse(ARGS));
  messages.push({ role: 'assistant', content: r.content },
                { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id,
                                            content: '18C' }] });
  const r2 = await client.messages.create({ model: 'tools', max_tokens: 50, tools: TOOLS,
                                            messages });
  assert.equal(r2.content[0].text, 'The weather in Paris is 18C.');

  const stream = client.messages.stream({ model: 'tools', max_tokens: 50, tools: TOOLS,
                                          messages: [messages[0]] });
  let partial = '';
  stream.on('inputJson', (delta) => { partial += delta; });
  const fin = await stream.finalMessage();
  assert.equal(partial, ARGS); // byte for byte what the upstream streamed
  assert.equal(fin.stop_reason, 'tool_use');
  assert.deepEqual(fin.content[1].input, JSON.parse(ARGS));
});

test("errors come back in Anthropic's format", async () => {
  await assert.rejects(
    client.messages.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.error.error.type === 'invalid_request_error' &&
           /max_tokens/.test(e.message));
  await assert.rejects(
    client.messages.create({ model: 'nope', max_tokens: 5,
                             messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  await assert.rejects( // the upstream's own validation (a tool_result without its tool_use)
    client.messages.create({ model: 'tools', max_tokens: 5, tools: TOOLS, messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_X', name: 'get_weather',
                                       input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_BAD', content: 'r' }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && /unexpected `tool_use_id`/.test(e.message));
});

test('broken upstream streams end with an error event', async () => {
  for (const model of ['cut', 'oai-broken']) {
    const stream = await client.messages.create({
      model, max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'x' }] });
    await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
                         /upstream stream broken/);
  }
});

test('an Anthropic 529 falls back to the OpenAI-compatible deployment', async () => {
  const { data, response } = await client.messages.create({
    model: 'overloaded', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
    .withResponse();
  assert.equal(data.content[0].text, MOCK_TEXT);
  assert.equal(response.headers.get('x-girder-deployment'), 'mock/ok-msgs');
  assert.equal(response.headers.get('x-girder-attempts'), '2');
});
