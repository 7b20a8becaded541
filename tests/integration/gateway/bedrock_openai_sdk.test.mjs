// The official `openai` npm SDK against girder in front of bedrock_upstream.py (a local
// server speaking AWS Bedrock Runtime's Converse API, verifying every request's SigV4
// signature on its own and answering streams in event stream framing): provider
// `type: bedrock`, girder's own upstream client and libcurl, long-term and session keys.
// Run by CTest: node --test bedrock_openai_sdk.test.mjs
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
// What bedrock_upstream.py answers (TEXT, ARGS there).
const TEXT = 'Hello from Bedrock! Streaming "works", token by token — ünïcode too.\nThe end.';
const ARGS = { city: 'Paris', unit: 'celsius' };
const MOCK_TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';
const MODEL = 'anthropic.claude-test-v1:0';
const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18,
                prompt_tokens_details: { cached_tokens: 0 } };

let br, mock, girder, client, bport;
before(async () => {
  const b = await start(['/usr/bin/python3', path.join(here, 'bedrock_upstream.py'),
                         '--region', 'eu-central-1', '--key', 'AKIDGIRDER:br-secret-1',
                         '--key', 'ASIAGIRDER:br-secret-2:session-tok'], /PORT (\d+)/);
  br = b.p;
  bport = b.m[1];
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-br-'));
  const cfg = path.join(dir, 'girder.yaml');
  const up = `http://127.0.0.1:${bport}`;
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: aws, type: bedrock, base_url: "${up}", region: eu-central-1,
     aws_access_key_id: AKIDGIRDER, aws_secret_access_key: br-secret-1}
  - {name: aws-curl, type: bedrock, client: curl, base_url: "${up}", region: eu-central-1,
     aws_access_key_id: AKIDGIRDER, aws_secret_access_key: br-secret-1}
  - {name: aws-session, type: bedrock, base_url: "${up}", region: eu-central-1,
     aws_access_key_id: ASIAGIRDER, aws_secret_access_key: br-secret-2,
     aws_session_token: session-tok}
  - {name: aws-env, type: bedrock, base_url: "${up}"}
  - {name: aws-badsecret, type: bedrock, base_url: "${up}", region: eu-central-1,
     aws_access_key_id: AKIDGIRDER, aws_secret_access_key: wrong-secret}
  - {name: aws-otherregion, type: bedrock, base_url: "${up}", region: us-west-2,
     aws_access_key_id: AKIDGIRDER, aws_secret_access_key: br-secret-1}
  - {name: mock, base_url: "http://127.0.0.1:${m.m[1]}/v1"}
models:
  - {alias: claude, deployments: [{provider: aws, model: "${MODEL}"}]}
  - {alias: claude-curl, deployments: [{provider: aws-curl, model: "${MODEL}"}]}
  - {alias: claude-session, deployments: [{provider: aws-session, model: "${MODEL}"}]}
  - {alias: claude-env, deployments: [{provider: aws-env, model: "${MODEL}"}]}
  - {alias: tools, deployments: [{provider: aws, model: tools-model}]}
  - {alias: tools-curl, deployments: [{provider: aws-curl, model: tools-model}]}
  - {alias: images, deployments: [{provider: aws, model: images-model}]}
  - {alias: maxtok, deployments: [{provider: aws, model: maxtok-model}]}
  - {alias: guard, deployments: [{provider: aws, model: guard-model}]}
  - {alias: stream-throttle, deployments: [{provider: aws, model: stream-throttle-model}]}
  - {alias: badsecret, deployments: [{provider: aws-badsecret, model: "${MODEL}"}]}
  - {alias: otherregion, deployments: [{provider: aws-otherregion, model: "${MODEL}"}]}
  - {alias: badmodel, deployments: [{provider: aws, model: no-such-model}]}
  - alias: throttled
    deployments: [{provider: aws, model: throttled-model}]
    retries: 0
    fallbacks: [openai]
  - alias: throttled-curl
    deployments: [{provider: aws-curl, model: throttled-model}]
    retries: 0
    fallbacks: [openai]
  - {alias: openai, deployments: [{provider: mock, model: ok-fallback}]}
`);
  const gw = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                          '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/,
                         { AWS_ACCESS_KEY_ID: 'ASIAGIRDER', AWS_SECRET_ACCESS_KEY: 'br-secret-2',
                           AWS_SESSION_TOKEN: 'session-tok', AWS_REGION: 'eu-central-1' });
  girder = gw;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${gw.m[1]}/v1`, apiKey: 'k', maxRetries: 0 });
});

after(() => {
  girder?.p.kill('SIGTERM');
  br?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

async function stats() {
  return (await fetch(`http://127.0.0.1:${bport}/_stats`)).json();
}

const TOOLS = [{ type: 'function', function: {
  name: 'get_weather', description: 'Current weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];

for (const alias of ['claude', 'claude-curl', 'claude-session', 'claude-env']) {
  test(`chat with a system prompt and several turns, signed (${alias})`, async () => {
    const r = await client.chat.completions.create({
      model: alias, temperature: 0.2, top_p: 0.5, max_tokens: 64, stop: ['STOP'],
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' },
                 { role: 'assistant', content: 'hello' }, { role: 'user', content: 'again' }] });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices[0].message.content, TEXT);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.deepEqual(r.usage, USAGE);
    const last = (await stats()).last[MODEL];
    assert.equal(last.path, '/model/anthropic.claude-test-v1%3A0/converse');
    assert.match(last.headers.authorization,
                 /^AWS4-HMAC-SHA256 Credential=(AKID|ASIA)GIRDER\/\d{8}\/eu-central-1\/bedrock\//);
    const session = alias === 'claude-session' || alias === 'claude-env';
    assert.equal(last.headers['x-amz-security-token'], session ? 'session-tok' : undefined);
    assert.deepEqual(last.body.system, [{ text: 'Be brief.' }]);
    assert.deepEqual(last.body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
    assert.deepEqual(last.body.inferenceConfig, { maxTokens: 64, temperature: 0.2, topP: 0.5,
                                                  stopSequences: ['STOP'] });
  });

  test(`streaming text reassembles exactly as the unstreamed answer (${alias})`, async () => {
    const plain = await client.chat.completions.create({
      model: alias, messages: [{ role: 'user', content: 'hi' }] });
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
    assert.equal(text, plain.choices[0].message.content);
    assert.equal(text, TEXT);
    assert.equal(role, 'assistant');
    assert.ok(n > 5);
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, USAGE);
    assert.equal((await stats()).last[MODEL].path,
                 '/model/anthropic.claude-test-v1%3A0/converse-stream');
  });
}

for (const alias of ['tools', 'tools-curl']) {
  test(`tool calls, then the tool result, both ways (${alias})`, async () => {
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const r = await client.chat.completions.create({
      model: alias, messages, tools: TOOLS, tool_choice: 'auto' });
    const msg = r.choices[0].message;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, null);
    assert.equal(msg.tool_calls.length, 1);
    assert.equal(msg.tool_calls[0].id, 'tooluse_bdrk01');
    assert.equal(msg.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), ARGS);
    let body = (await stats()).last['tools-model'].body;
    assert.deepEqual(body.toolConfig.toolChoice, { auto: {} });
    assert.deepEqual(body.toolConfig.tools[0].toolSpec, {
      name: 'get_weather', description: 'Current weather',
      inputSchema: { json: TOOLS[0].function.parameters } });
    messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id,
                         content: '{"temp_c": 18}' });
    const r2 = await client.chat.completions.create({ model: alias, messages, tools: TOOLS });
    assert.equal(r2.choices[0].message.content, 'The weather in Paris is 18C.');
    body = (await stats()).last['tools-model'].body;
    assert.deepEqual(body.messages[1].content[0].toolUse,
                     { toolUseId: 'tooluse_bdrk01', name: 'get_weather', input: ARGS });
    assert.deepEqual(body.messages[2], { role: 'user', content: [{ toolResult: {
      toolUseId: 'tooluse_bdrk01', content: [{ text: '{"temp_c": 18}' }], status: 'success' } }] });
  });

  test(`streamed tool calls: same id, name and arguments as unstreamed (${alias})`, async () => {
    const plain = await client.chat.completions.create({
      model: alias, tools: TOOLS, messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    const stream = await client.chat.completions.create({
      model: alias, stream: true, tools: TOOLS, tool_choice: 'required',
      messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    let args = '', name = '', id = '', finish = null, pieces = 0;
    for await (const c of stream) {
      const ch = c.choices[0];
      if (!ch) continue;
      for (const tc of ch.delta.tool_calls ?? []) {
        assert.equal(tc.index, 0);
        if (tc.id) id = tc.id;
        if (tc.function?.name) name = tc.function.name;
        args += tc.function?.arguments ?? '';
        pieces++;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    assert.ok(pieces > 2);
    assert.deepEqual(JSON.parse(args), JSON.parse(plain.choices[0].message.tool_calls[0]
      .function.arguments));
    assert.equal(name, 'get_weather');
    assert.equal(id, 'tooluse_bdrk01');
    assert.equal(finish, 'tool_calls');
    assert.deepEqual((await stats()).last['tools-model'].body.toolConfig.toolChoice, { any: {} });
  });
}

test('data: URL images become image blocks; other URLs are refused', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const r = await client.chat.completions.create({
    model: 'images', messages: [{ role: 'user', content: [
      { type: 'text', text: 'what are these?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
      { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${png}`, detail: 'low' } }] }] });
  assert.equal(r.choices[0].message.content, 'images: 2');
  const blocks = (await stats()).last['images-model'].body.messages[0].content;
  assert.deepEqual(blocks[1], { image: { format: 'png', source: { bytes: png } } });
  assert.deepEqual(blocks[2].image.format, 'jpeg');
  await assert.rejects(
    client.chat.completions.create({ model: 'images', messages: [{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }] }] }),
    (e) => e instanceof OpenAI.BadRequestError && /data: URLs only/.test(e.message));
});

test('stop reasons: max_tokens is length, guardrail_intervened is content_filter', async () => {
  const r = await client.chat.completions.create({
    model: 'maxtok', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].finish_reason, 'length');
  const g = await client.chat.completions.create({
    model: 'guard', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(g.choices[0].finish_reason, 'content_filter');
  const s = await client.chat.completions.create({
    model: 'guard', stream: true, messages: [{ role: 'user', content: 'x' }] });
  let finish = null;
  for await (const c of s) finish = c.choices[0]?.finish_reason ?? finish;
  assert.equal(finish, 'content_filter');
});

test('untranslatable parameters are a 400 naming them, never sent', async () => {
  for (const [extra, param] of [[{ n: 2 }, 'n'], [{ logprobs: true }, 'logprobs'],
                                [{ seed: 7 }, 'seed'], [{ presence_penalty: 1 }, 'presence_penalty'],
                                [{ response_format: { type: 'json_object' } }, 'response_format'],
                                [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
                                [{ temperature: 1.5 }, 'temperature']]) {
    const before = (await stats()).by_model[MODEL] ?? 0;
    await assert.rejects(
      client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }],
                                       ...extra }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === param);
    assert.equal((await stats()).by_model[MODEL] ?? 0, before);
  }
  await assert.rejects(client.completions.create({ model: 'claude', prompt: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError &&
                              /type bedrock, which cannot serve \/v1\/completions/.test(e.message));
});

test("Bedrock's errors come back in OpenAI's format with the same status", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'badsecret', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.code === 'AccessDeniedException' &&
           /signature we calculated does not match/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'otherregion',
                                     messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && /region/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: 'badmodel', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'ValidationException' &&
           /model identifier is invalid/.test(e.message));
  // a tool result for a call the turn before did not make: the upstream refuses it
  await assert.rejects(
    client.chat.completions.create({ model: 'tools', tools: TOOLS, messages: [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'a', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'b', content: 'r1' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /does not match a toolUse/.test(e.message));
});

test('a throttling exception inside a stream ends it with an error', async () => {
  const stream = await client.chat.completions.create({
    model: 'stream-throttle', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
                       /Too many tokens/);
});

for (const alias of ['throttled', 'throttled-curl']) {
  test(`a throttled Bedrock deployment (429) falls back to the OpenAI one (${alias})`, async () => {
    const before = (await stats()).by_model['throttled-model'] ?? 0;
    const { data, response } = await client.chat.completions.create({
      model: alias, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0].message.content, MOCK_TEXT);
    assert.equal(response.headers.get('x-girder-deployment'), 'mock/ok-fallback');
    assert.equal(response.headers.get('x-girder-attempts'), '2');
    assert.equal((await stats()).by_model['throttled-model'], before + 1);
  });
}

test('no AWS secret or session token in girder\'s output', async () => {
  const out = girder.out();
  assert.ok(out.includes('listening'));
  for (const secret of ['br-secret-1', 'br-secret-2', 'wrong-secret', 'session-tok'])
    assert.ok(!out.includes(secret), secret);
});

test('@anthropic-ai/sdk on /v1/messages reaches a bedrock deployment (plain and streamed)',
     async () => {
  const { default: Anthropic } = await import(
    pathToFileURL(path.join(src, 'tests/node/node_modules/@anthropic-ai/sdk/index.mjs')).href);
  const anth = new Anthropic({ baseURL: client.baseURL.replace(/\/v1$/, ''), apiKey: 'k',
                               maxRetries: 0 });
  const m = await anth.messages.create({
    model: 'claude', max_tokens: 64, system: 'Be brief.',
    messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(m.type, 'message');
  assert.equal(m.content[0].text, TEXT);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.usage.input_tokens, 11);
  assert.deepEqual((await stats()).last[MODEL].body.system, [{ text: 'Be brief.' }]);
  const stream = anth.messages.stream({ model: 'claude', max_tokens: 64,
                                        messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const fin = await stream.finalMessage();
  assert.equal(text, TEXT);
  assert.equal(fin.content[0].text, TEXT);
  assert.equal(fin.stop_reason, 'end_turn');
});
