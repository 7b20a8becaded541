// The official `openai` npm SDK against girder in front of anthropic_upstream.py (a local
// server speaking and validating Anthropic's Messages API): provider `type: anthropic`.
// Run by CTest: node --test anthropic_openai_sdk.test.mjs
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
// What anthropic_upstream.py answers (TEXT, ARGS there).
const TEXT = 'Hello from Claude! Streaming "works", token by token — ünïcode too.\nThe end.';
const ARGS = '{"city": "Paris", "unit": "celsius"}';
const MOCK_TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';

let anth, mock, girder, client, base, aport;
before(async () => {
  const a = await start(['/usr/bin/python3', path.join(here, 'anthropic_upstream.py'),
                         '--key', 'sk-ant-test'], /PORT (\d+)/);
  anth = a.p;
  aport = a.m[1];
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-anth-'));
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: claude, type: anthropic, base_url: "http://127.0.0.1:${aport}/v1",
     api_key: sk-ant-test, first_byte_timeout_ms: 2000}
  - {name: claude-curl, type: anthropic, client: curl, anthropic_version: 2024-10-22,
     base_url: "http://127.0.0.1:${aport}/v1", api_key: sk-ant-test}
  - {name: claude-badkey, type: anthropic, base_url: "http://127.0.0.1:${aport}/v1",
     api_key: wrong}
  - {name: mock, base_url: "http://127.0.0.1:${m.m[1]}/v1"}
models:
  - alias: claude
    deployments: [{provider: claude, model: claude-ok}]
  - alias: claude-curl
    deployments: [{provider: claude-curl, model: claude-ok}]
  - alias: tools
    deployments: [{provider: claude, model: claude-tools}]
  - alias: tools-curl
    deployments: [{provider: claude-curl, model: claude-tools}]
  - alias: images
    deployments: [{provider: claude, model: claude-images}]
  - alias: cut
    deployments: [{provider: claude, model: claude-cut}]
  - alias: badkey
    deployments: [{provider: claude-badkey, model: claude-ok}]
  - alias: overloaded
    deployments: [{provider: claude, model: claude-overloaded}]
    retries: 0
    fallbacks: [openai]
  - alias: openai
    deployments: [{provider: mock, model: ok-fallback}]
`);
  const g = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = g;
  base = `http://127.0.0.1:${g.m[1]}`;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0 });
});

after(() => {
  girder?.p.kill('SIGTERM');
  anth?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

async function stats() {
  return (await fetch(`http://127.0.0.1:${aport}/_stats`)).json();
}

const TOOLS = [{ type: 'function', function: {
  name: 'get_weather', description: 'Current weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

for (const alias of ['claude', 'claude-curl']) {
  test(`chat with a system prompt and several turns (${alias})`, async () => {
    const r = await client.chat.completions.create({
      model: alias, temperature: 0.2, stop: ['STOP'],
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' },
                 { role: 'assistant', content: 'hello' }, { role: 'user', content: 'again' }] });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.content, TEXT);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.model, 'claude-ok');
    assert.deepEqual(r.usage, { prompt_tokens: 14, completion_tokens: 7, total_tokens: 21,
                                prompt_tokens_details: { cached_tokens: 2,
                                                         cache_creation_tokens: 1 } });
    const last = (await stats()).last['claude-ok'];
    assert.equal(last.headers['x-api-key'], 'sk-ant-test');
    assert.equal(last.headers['anthropic-version'],
                 alias === 'claude' ? '2023-06-01' : '2024-10-22');
    assert.equal(last.headers.authorization, undefined);
    assert.deepEqual(last.body.system, [{ type: 'text', text: 'Be brief.' }]);
    assert.equal(last.body.max_tokens, 4096);
    assert.deepEqual(last.body.stop_sequences, ['STOP']);
    assert.equal(last.body.messages.length, 3);
  });

  test(`streaming text reassembles exactly (${alias})`, async () => {
    const stream = await client.chat.completions.create({
      model: alias, stream: true, stream_options: { include_usage: true }, max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }] });
    let text = '', finish = null, usage = null, n = 0;
    for await (const c of stream) {
      n++;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(text, TEXT);
    assert.ok(n > 4);
    assert.equal(finish, 'stop');
    assert.equal(usage.prompt_tokens, 14);
    assert.equal(usage.completion_tokens, 7);
    assert.equal((await stats()).last['claude-ok'].body.max_tokens, 100);
  });
}

for (const alias of ['tools', 'tools-curl']) {
  test(`tool calls, then the tool result, non-streamed (${alias})`, async () => {
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const r = await client.chat.completions.create({
      model: alias, messages, tools: TOOLS, tool_choice: 'auto' });
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, 'Let me look.');
    assert.equal(msg.tool_calls.length, 1);
    assert.equal(msg.tool_calls[0].id, 'toolu_01A');
    assert.equal(msg.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), JSON.parse(ARGS));
    messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '18C' });
    const r2 = await client.chat.completions.create({ model: alias, messages, tools: TOOLS });
    assert.equal(r2.choices[0].message.content, 'The weather in Paris is 18C.');
    const body = (await stats()).last['claude-tools'].body;
    assert.equal(body.messages[1].content[1].type, 'tool_use');
    assert.equal(body.messages[2].content[0].tool_use_id, 'toolu_01A');
  });

  test(`streamed tool-call arguments reassemble exactly (${alias})`, async () => {
    const stream = await client.chat.completions.create({
      model: alias, stream: true, tools: TOOLS, parallel_tool_calls: false,
      messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    let args = '', name = '', id = '', text = '', finish = null;
    for await (const c of stream) {
      const ch = c.choices[0];
      if (!ch) continue;
      text += ch.delta.content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        if (tc.id) id = tc.id;
        if (tc.function?.name) name = tc.function.name;
        args += tc.function?.arguments ?? '';
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.equal(args, ARGS); // byte for byte what the upstream streamed
    assert.equal(name, 'get_weather');
    assert.equal(id, 'toolu_01A');
    assert.equal(text, 'Let me look.');
    assert.equal(finish, 'tool_calls');
    assert.deepEqual((await stats()).last['claude-tools'].body.tool_choice,
                     { type: 'auto', disable_parallel_tool_use: true });
  });
}

test('image parts become base64 and url sources', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const r = await client.chat.completions.create({
    model: 'images', messages: [{ role: 'user', content: [
      { type: 'text', text: 'what are these?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } }] }] });
  assert.equal(r.choices[0].message.content, 'images: 2');
  const c = (await stats()).last['claude-images'].body.messages[0].content;
  assert.deepEqual(c[1].source, { type: 'base64', media_type: 'image/png', data: png });
  assert.deepEqual(c[2].source, { type: 'url', url: 'https://example.com/cat.jpg' });
});

test('untranslatable parameters are a 400 naming them', async () => {
  for (const [extra, param] of [[{ n: 2 }, 'n'], [{ logprobs: true }, 'logprobs'],
                                [{ presence_penalty: 1 }, 'presence_penalty'],
                                [{ response_format: { type: 'json_object' } }, 'response_format'],
                                [{ temperature: 1.7 }, 'temperature']]) {
    const before = (await stats()).by_model['claude-ok'] ?? 0;
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }],
                                       ...extra }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === param &&
             /Anthropic/.test(e.message));
    assert.equal((await stats()).by_model['claude-ok'] ?? 0, before); // never sent
  }
});

test("the upstream's validation errors come back in OpenAI's format", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'tools', tools: TOOLS, messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_X', type: 'function',
        function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_WRONG', content: 'r' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.type === 'invalid_request_error' &&
           /unexpected `tool_use_id`/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'badkey', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('a stream cut before message_stop ends with an error', async () => {
  const stream = await client.chat.completions.create({
    model: 'cut', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
                       /upstream stream broken/);
});

async function tokens(deployment) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const re = new RegExp(`girder_gateway_tokens_total\\{alias="[^"]*",deployment="${deployment}",` +
                        `type="prompt"\\} (\\d+)`);
  const m = text.match(re);
  return m ? Number(m[1]) : 0;
}

test('Anthropic 529 falls back to the OpenAI-compatible deployment, which is charged', async () => {
  const beforeFallback = await tokens('mock/ok-fallback');
  const { data, response } = await client.chat.completions.create({
    model: 'overloaded', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(data.choices[0].message.content, MOCK_TEXT);
  assert.equal(data.model, 'ok-fallback');
  assert.equal(response.headers.get('x-girder-deployment'), 'mock/ok-fallback');
  assert.equal(response.headers.get('x-girder-attempts'), '2');
  assert.equal((await stats()).by_model['claude-overloaded'] >= 1, true);
  assert.equal(await tokens('mock/ok-fallback'), beforeFallback + data.usage.prompt_tokens);
  assert.equal(await tokens('claude/claude-overloaded'), 0);
  // and a streamed one: the 529 comes before any byte, so the stream is the fallback's
  const stream = await client.chat.completions.create({
    model: 'overloaded', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  assert.equal(text, MOCK_TEXT);
});

test('anthropic deployments serve chat only', async () => {
  await assert.rejects(client.embeddings.create({ model: 'claude', input: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError && /only chat/.test(e.message));
});
