// The official `openai` npm SDK against girder in front of gemini_upstream.py (a local server
// speaking and validating Google's Gemini API): provider `type: gemini`, AI Studio and
// Vertex AI forms, girder's own upstream client and libcurl.
// Run by CTest: node --test gemini_openai_sdk.test.mjs
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
// What gemini_upstream.py answers (TEXT, ARGS there).
const TEXT = 'Hello from Gemini! Streaming "works", token by token — ünïcode too.\nThe end.';
const ARGS = { city: 'Paris', unit: 'celsius' };
const MOCK_TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';

let gem, mock, girder, client, base, gport;
before(async () => {
  const g = await start(['/usr/bin/python3', path.join(here, 'gemini_upstream.py'),
                         '--key', 'gm-key-test', '--token', 'ya29.test-token',
                         '--project', 'test-proj', '--location', 'us-central1'], /PORT (\d+)/);
  gem = g.p;
  gport = g.m[1];
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-gem-'));
  const cfg = path.join(dir, 'girder.yaml');
  const up = `http://127.0.0.1:${gport}`;
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: studio, type: gemini, base_url: "${up}", api_key: gm-key-test,
     first_byte_timeout_ms: 2000}
  - {name: studio-curl, type: gemini, client: curl, base_url: "${up}", api_key: gm-key-test}
  - {name: vertex, type: gemini, base_url: "${up}", api_key: ya29.test-token,
     gemini: {api: vertex, project: test-proj, location: us-central1}}
  - {name: vertex-curl, type: gemini, client: curl, base_url: "${up}", api_key: ya29.test-token,
     gemini: {api: vertex, project: test-proj, location: us-central1}}
  - {name: vertex-otherproj, type: gemini, base_url: "${up}", api_key: ya29.test-token,
     gemini: {api: vertex, project: other-proj, location: us-central1}}
  - {name: badkey, type: gemini, base_url: "${up}", api_key: wrong}
  - {name: nokey, type: gemini, base_url: "${up}"}
  - {name: mock, base_url: "http://127.0.0.1:${m.m[1]}/v1"}
models:
  - {alias: studio, deployments: [{provider: studio, model: gemini-ok}]}
  - {alias: studio-curl, deployments: [{provider: studio-curl, model: gemini-ok}]}
  - {alias: vertex, deployments: [{provider: vertex, model: gemini-ok}]}
  - {alias: vertex-curl, deployments: [{provider: vertex-curl, model: gemini-ok}]}
  - {alias: tools, deployments: [{provider: studio, model: gemini-tools}]}
  - {alias: tools-curl, deployments: [{provider: studio-curl, model: gemini-tools}]}
  - {alias: images, deployments: [{provider: studio, model: gemini-images}]}
  - {alias: blocked, deployments: [{provider: studio, model: gemini-blocked}]}
  - {alias: safety, deployments: [{provider: vertex, model: gemini-safety}]}
  - {alias: cut, deployments: [{provider: studio, model: gemini-cut}]}
  - {alias: badkey, deployments: [{provider: badkey, model: gemini-ok}]}
  - {alias: nokey, deployments: [{provider: nokey, model: gemini-ok}]}
  - {alias: otherproj, deployments: [{provider: vertex-otherproj, model: gemini-ok}]}
  - alias: overloaded
    deployments: [{provider: studio, model: gemini-overloaded}]
    retries: 0
    fallbacks: [openai]
  - {alias: openai, deployments: [{provider: mock, model: ok-fallback}]}
  - {alias: embed, deployments: [{provider: studio, model: text-embedding-004}]}
`);
  const gw = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                          '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = gw;
  base = `http://127.0.0.1:${gw.m[1]}`;
  client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0 });
});

after(() => {
  girder?.p.kill('SIGTERM');
  gem?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

async function stats() {
  return (await fetch(`http://127.0.0.1:${gport}/_stats`)).json();
}

const TOOLS = [{ type: 'function', function: {
  name: 'get_weather', description: 'Current weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

for (const alias of ['studio', 'studio-curl', 'vertex', 'vertex-curl']) {
  const vertex = alias.startsWith('vertex');
  test(`chat with a system prompt and several turns (${alias})`, async () => {
    const r = await client.chat.completions.create({
      model: alias, temperature: 0.2, top_p: 0.5, max_tokens: 64, stop: ['STOP'],
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' },
                 { role: 'assistant', content: 'hello' }, { role: 'user', content: 'again' }] });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.id, 'chatcmpl-resp-gemini-ok');
    assert.equal(r.choices[0].message.content, TEXT);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.model, 'gemini-ok');
    assert.deepEqual(r.usage, { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18,
                                prompt_tokens_details: { cached_tokens: 2 } });
    const last = (await stats()).last['gemini-ok'];
    if (vertex) {
      assert.equal(last.headers.authorization, 'Bearer ya29.test-token');
      assert.equal(last.headers['x-goog-api-key'], undefined);
      assert.equal(last.path, '/v1/projects/test-proj/locations/us-central1/publishers/google/' +
                              'models/gemini-ok:generateContent');
    } else {
      assert.equal(last.headers['x-goog-api-key'], 'gm-key-test');
      assert.equal(last.headers.authorization, undefined);
      assert.equal(last.path, '/v1beta/models/gemini-ok:generateContent');
    }
    assert.deepEqual(last.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
    assert.deepEqual(last.body.contents.map((c) => c.role), ['user', 'model', 'user']);
    assert.deepEqual(last.body.generationConfig, { stopSequences: ['STOP'], temperature: 0.2,
                                                   topP: 0.5, maxOutputTokens: 64 });
  });

  test(`streaming text reassembles exactly (${alias})`, async () => {
    const stream = await client.chat.completions.create({
      model: alias, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }] });
    let text = '', finish = null, usage = null, n = 0, role = null;
    for await (const c of stream) {
      n++;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        role ??= ch.delta.role;
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    assert.equal(text, TEXT); // byte for byte what the upstream streamed
    assert.equal(role, 'assistant');
    assert.ok(n > 4);
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18,
                              prompt_tokens_details: { cached_tokens: 2 } });
    assert.match((await stats()).last['gemini-ok'].path,
                 /:streamGenerateContent\?alt=sse$/);
  });
}

for (const alias of ['tools', 'tools-curl']) {
  test(`function calls, then the function response, both ways (${alias})`, async () => {
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const r = await client.chat.completions.create({
      model: alias, messages, tools: TOOLS, tool_choice: 'auto' });
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, null);
    assert.equal(msg.tool_calls.length, 1);
    assert.equal(msg.tool_calls[0].id, 'call_0');
    assert.equal(msg.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), ARGS);
    let body = (await stats()).last['gemini-tools'].body;
    assert.deepEqual(body.toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
    assert.deepEqual(body.tools[0].functionDeclarations[0].parameters, TOOLS[0].function.parameters);
    messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id,
                         content: '{"temp_c": 18}' });
    const r2 = await client.chat.completions.create({ model: alias, messages, tools: TOOLS });
    assert.equal(r2.choices[0].message.content, 'The weather in Paris is 18C.');
    body = (await stats()).last['gemini-tools'].body;
    assert.deepEqual(body.contents[1].parts[0].functionCall, { name: 'get_weather', args: ARGS });
    assert.deepEqual(body.contents[2], { role: 'user', parts: [{ functionResponse: {
      name: 'get_weather', response: { temp_c: 18 } } }] });
  });

  test(`streamed function calls arrive whole, same arguments as unstreamed (${alias})`,
       async () => {
    const plain = await client.chat.completions.create({
      model: alias, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const stream = await client.chat.completions.create({
      model: alias, stream: true, tools: TOOLS, tool_choice: 'required',
      messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    let args = '', name = '', id = '', finish = null;
    for await (const c of stream) {
      const ch = c.choices[0];
      if (!ch) continue;
      for (const tc of ch.delta.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        if (tc.id) id = tc.id;
        if (tc.function?.name) name = tc.function.name;
        args += tc.function?.arguments ?? '';
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.equal(args, plain.choices[0].message.tool_calls[0].function.arguments);
    assert.deepEqual(JSON.parse(args), ARGS);
    assert.equal(name, 'get_weather');
    assert.equal(id, 'call_0');
    assert.equal(finish, 'tool_calls');
    assert.deepEqual((await stats()).last['gemini-tools'].body.toolConfig,
                     { functionCallingConfig: { mode: 'ANY' } });
  });
}

test('data: URL images become inlineData; other URLs are refused', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const r = await client.chat.completions.create({
    model: 'images', messages: [{ role: 'user', content: [
      { type: 'text', text: 'what are these?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${png}`, detail: 'low' } }] }] });
  assert.equal(r.choices[0].message.content, 'images: 2');
  const parts = (await stats()).last['gemini-images'].body.contents[0].parts;
  assert.deepEqual(parts[1], { inlineData: { mimeType: 'image/png', data: png } });
  await assert.rejects(
    client.chat.completions.create({ model: 'images', messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }] }] }),
    (e) => e instanceof OpenAI.BadRequestError && /data: URLs only/.test(e.message));
});

test('safety blocks are finish_reason content_filter', async () => {
  const r = await client.chat.completions.create({
    model: 'blocked', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].finish_reason, 'content_filter');
  assert.equal(r.choices[0].message.content, null);
  assert.equal(r.usage.prompt_tokens, 11);
  const s = await client.chat.completions.create({
    model: 'blocked', stream: true, messages: [{ role: 'user', content: 'x' }] });
  let finish = null;
  for await (const c of s) finish = c.choices[0]?.finish_reason ?? finish;
  assert.equal(finish, 'content_filter');
  const r2 = await client.chat.completions.create({
    model: 'safety', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r2.choices[0].finish_reason, 'content_filter');
  assert.equal(r2.choices[0].message.content, 'I was about to');
});

test('untranslatable parameters are a 400 naming them, never sent', async () => {
  for (const [extra, param] of [[{ n: 2 }, 'n'], [{ logprobs: true }, 'logprobs'],
                                [{ logit_bias: { 1: 5 } }, 'logit_bias'],
                                [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
                                [{ temperature: 2.5 }, 'temperature']]) {
    const before = (await stats()).by_model['gemini-ok'] ?? 0;
    await assert.rejects(
      client.chat.completions.create({ model: 'studio', messages: [{ role: 'user', content: 'x' }],
                                       ...extra }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === param);
    assert.equal((await stats()).by_model['gemini-ok'] ?? 0, before);
  }
});

test("Google's errors come back in OpenAI's format with the same status", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'badkey', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'INVALID_ARGUMENT' &&
           /API key not valid/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'nokey', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.code === 'PERMISSION_DENIED');
  await assert.rejects(
    client.chat.completions.create({ model: 'otherproj',
                                     messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && /other-proj/.test(e.message));
  // a function response the model turn before did not ask for: the upstream refuses it
  await assert.rejects(
    client.chat.completions.create({ model: 'tools', tools: TOOLS, messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'a', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'a', content: 'r1' },
      { role: 'assistant', content: 'ok' },
      { role: 'tool', tool_call_id: 'a', content: 'r2' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /function response turn/.test(e.message));
});

test('a stream cut before its finishReason ends with an error', async () => {
  const stream = await client.chat.completions.create({
    model: 'cut', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
                       /upstream stream broken/);
});

test('Gemini 503 falls back to the OpenAI-compatible deployment', async () => {
  const { data, response } = await client.chat.completions.create({
    model: 'overloaded', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
  assert.equal(data.choices[0].message.content, MOCK_TEXT);
  assert.equal(response.headers.get('x-girder-deployment'), 'mock/ok-fallback');
  assert.equal(response.headers.get('x-girder-attempts'), '2');
  assert.ok((await stats()).by_model['gemini-overloaded'] >= 1);
});

// gemini_upstream.py's vector for a text: ((code of text[k % len] + k) % 16) / 8
function vec(text, dims) {
  return Array.from({ length: dims }, (_, k) => ((text.charCodeAt(k % text.length) + k) % 16) / 8);
}

test('embeddings through batchEmbedContents: the SDK default (base64) and float', async () => {
  const r = await client.embeddings.create({ model: 'embed', input: ['hello', 'world!'] });
  assert.equal(r.object, 'list');
  assert.equal(r.model, 'text-embedding-004');
  assert.deepEqual(r.data.map((d) => d.index), [0, 1]);
  assert.deepEqual(Array.from(r.data[0].embedding), vec('hello', 4)); // decoded from base64
  assert.deepEqual(Array.from(r.data[1].embedding), vec('world!', 4));
  assert.deepEqual(r.usage, { prompt_tokens: 0, total_tokens: 0 });
  const last = (await stats()).last['text-embedding-004'];
  assert.equal(last.path, '/v1beta/models/text-embedding-004:batchEmbedContents');
  assert.equal(last.headers['x-goog-api-key'], 'gm-key-test');
  const f = await client.embeddings.create({ model: 'embed', input: 'abc', dimensions: 6,
                                             encoding_format: 'float' });
  assert.deepEqual(f.data[0].embedding, vec('abc', 6));
  assert.equal((await stats()).last['text-embedding-004'].body.requests[0].outputDimensionality, 6);
  await assert.rejects(client.embeddings.create({ model: 'embed', input: [[1, 2, 3]] }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
});

test('gemini deployments serve no legacy completions; Vertex ones no embeddings', async () => {
  await assert.rejects(client.completions.create({ model: 'studio', prompt: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError &&
                              /type gemini, which cannot serve \/v1\/completions/.test(e.message));
  await assert.rejects(client.embeddings.create({ model: 'vertex', input: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError &&
                              /cannot serve \/v1\/embeddings/.test(e.message));
});
