// The official `openai` npm SDK's Responses API (client.responses.create / .stream) against
// girder's POST /v1/responses, translated to chat completions for an OpenAI-compatible
// deployment (mock_upstream.py) and, through the Anthropic adapter, for an Anthropic one
// (anthropic_upstream.py, which validates the Messages API) and, through the Gemini adapter,
// for a Gemini one (gemini_upstream.py); and passed through as it is to a provider with
// `responses: native` (mock_upstream.py's /v1/responses).
// Run by CTest: node --test openai_sdk_responses.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { start } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.GIRDER_SRC || path.resolve(here, '../../..');
const { default: OpenAI } = await import(
  pathToFileURL(path.join(src, 'tests/node/node_modules/openai/index.mjs')).href);
const MOCK_TEXT = 'Hello from the mock upstream! Streaming works, token by token, until the end.';
const CLAUDE_TEXT = 'Hello from Claude! Streaming "works", token by token — ünïcode too.\nThe end.';
const GEMINI_TEXT = 'Hello from Gemini! Streaming "works", token by token — ünïcode too.\nThe end.';
const ARGS = '{"city": "Paris", "unit": "celsius"}';
const NATIVE_TEXT = 'Native Responses answer from the mock, word by word.';
const BUDGET_KEY = 'gk-resp-budget-1';
const KEY = 'gk-resp-plain-2';

let mock, anth, gem, girder, client, base, mport, aport;
before(async () => {
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  mport = m.m[1];
  const a = await start(['/usr/bin/python3', path.join(here, 'anthropic_upstream.py'),
                         '--key', 'sk-ant-test'], /PORT (\d+)/);
  anth = a.p;
  aport = a.m[1];
  const g0 = await start(['/usr/bin/python3', path.join(here, 'gemini_upstream.py'),
                          '--key', 'gm-key-test'], /PORT (\d+)/);
  gem = g0.p;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-resp-'));
  const cfg = path.join(dir, 'girder.yaml');
  const sha = (k) => createHash('sha256').update(k).digest('hex');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: mock, base_url: "http://127.0.0.1:${mport}/v1"}
  - {name: native, base_url: "http://127.0.0.1:${mport}/v1", responses: native}
  - {name: claude, type: anthropic, base_url: "http://127.0.0.1:${aport}/v1",
     api_key: sk-ant-test}
  - {name: studio, type: gemini, base_url: "http://127.0.0.1:${g0.m[1]}", api_key: gm-key-test}
models:
  - {alias: oai, deployments: [{provider: mock, model: ok-resp}]}
  - {alias: oai-broken, deployments: [{provider: mock, model: "reset:3"}]}
  - {alias: oai-400, deployments: [{provider: mock, model: err400}]}
  - {alias: priced, deployments: [{provider: mock, model: ok-resp-priced}]}
  - {alias: claude, deployments: [{provider: claude, model: claude-ok}]}
  - {alias: tools, deployments: [{provider: claude, model: claude-tools}]}
  - {alias: native, deployments: [{provider: native, model: ok-native}]}
  - {alias: native-broken, deployments: [{provider: native, model: "reset:5"}]}
  - {alias: native-400, deployments: [{provider: native, model: err400}], retries: 0,
     fallbacks: [oai]}
  - {alias: gemini, deployments: [{provider: studio, model: gemini-ok}]}
  - {alias: blocked, deployments: [{provider: studio, model: gemini-blocked}]}
governance:
  keys:
    - {id: resp-plain, key_sha256: ${sha(KEY)}}
    - {id: resp-budget, key_sha256: ${sha(BUDGET_KEY)}, budget: {usd: 1, period: monthly}}
  prices:
    - {model: ok-resp-priced, input_per_1m: 200000, output_per_1m: 0}
`);
  const g = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = g.p;
  base = `http://127.0.0.1:${g.m[1]}/v1`;
  client = new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0 });
});

after(() => {
  girder?.kill('SIGTERM');
  mock?.kill('SIGTERM');
  anth?.kill('SIGTERM');
  gem?.kill('SIGTERM');
});

async function metric(line) {
  const text = await (await fetch(base.replace('/v1', '/metrics'))).text();
  const m = text.split('\n').find((l) => l.startsWith(line + ' '));
  return m ? Number(m.split(' ')[1]) : 0;
}

async function lastBody(port, model) {
  const b = (await (await fetch(`http://127.0.0.1:${port}/_stats`)).json()).last[model].body;
  return typeof b === 'string' ? JSON.parse(b) : b; // the mock keeps the raw body
}

const TOOLS = [{ type: 'function', name: 'get_weather', description: 'Current weather',
                 parameters: { type: 'object', properties: { city: { type: 'string' } } },
                 strict: false }];

test('responses.create, translated for an OpenAI-compatible deployment', async () => {
  const prompt = 'girder_gateway_tokens_total{alias="oai",deployment="mock/ok-resp",type="prompt"}';
  const before = await metric(prompt);
  const r = await client.responses.create({ model: 'oai', instructions: 'Be brief.',
                                            input: 'hi', max_output_tokens: 40 });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, MOCK_TEXT); // computed by the SDK from the output items
  assert.equal(r.output[0].type, 'message');
  assert.deepEqual(r.output[0].content[0].annotations, []);
  assert.equal(r.usage.input_tokens, 9);
  assert.ok(r.usage.output_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  const sent = await lastBody(mport, 'ok-resp');
  assert.deepEqual(sent.messages, [{ role: 'system', content: 'Be brief.' },
                                   { role: 'user', content: 'hi' }]);
  assert.equal(sent.max_tokens, 40);
  assert.equal(await metric(prompt), before + 9); // tokens counted from the chat usage
});

for (const [alias, want] of [['oai', MOCK_TEXT], ['claude', CLAUDE_TEXT],
                             ['gemini', GEMINI_TEXT]]) {
  test(`responses.stream reassembles the text exactly (${alias})`, async () => {
    const stream = client.responses.stream({ model: alias, input: 'hi',
                                             max_output_tokens: 60 });
    let text = '';
    const types = [];
    const seqs = [];
    stream.on('response.output_text.delta', (e) => { text += e.delta; });
    stream.on('event', (e) => {
      seqs.push(e.sequence_number);
      if (types[types.length - 1] !== e.type) types.push(e.type);
    });
    const fin = await stream.finalResponse();
    assert.equal(text, want);
    assert.equal(fin.output[0].content[0].text, want); // (this SDK sets no output_text here)
    assert.equal(fin.status, 'completed');
    assert.ok(fin.usage.input_tokens > 0 && fin.usage.output_tokens > 0);
    assert.deepEqual(seqs, seqs.map((_, i) => i));
    assert.deepEqual(types, ['response.created', 'response.in_progress',
                             'response.output_item.added', 'response.content_part.added',
                             'response.output_text.delta', 'response.output_text.done',
                             'response.content_part.done', 'response.output_item.done',
                             'response.completed']);
  });
}

test('a safety block is status incomplete, reason content_filter (Gemini)', async () => {
  const r = await client.responses.create({ model: 'blocked', input: 'x' });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'content_filter' });
  assert.equal(r.usage.input_tokens, 11);
  const s = await client.responses.create({ model: 'blocked', input: 'x', stream: true });
  let last = null;
  for await (const e of s) last = e;
  assert.equal(last.type, 'response.incomplete');
  assert.equal(last.response.incomplete_details.reason, 'content_filter');
});

test('function calling round trip, non-streamed and streamed', async () => {
  const input = [{ role: 'user', content: 'Weather in Paris?' }];
  const r = await client.responses.create({ model: 'tools', input, tools: TOOLS,
                                            tool_choice: 'auto' });
  assert.equal(r.output_text, 'Let me look.');
  const call = r.output.find((o) => o.type === 'function_call');
  assert.equal(call.call_id, 'toolu_01A');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), JSON.parse(ARGS));
  const sent = await lastBody(aport, 'claude-tools');
  assert.deepEqual(sent.tools[0].input_schema, TOOLS[0].parameters);
  // the client sends the output items back, plus the function's result
  const r2 = await client.responses.create({
    model: 'tools', tools: TOOLS,
    input: [...input, ...r.output,
            { type: 'function_call_output', call_id: call.call_id, output: '18C' }] });
  assert.equal(r2.output_text, 'The weather in Paris is 18C.');

  const stream = client.responses.stream({ model: 'tools', input, tools: TOOLS });
  let args = '';
  stream.on('response.function_call_arguments.delta', (e) => { args += e.delta; });
  const fin = await stream.finalResponse();
  assert.equal(args, ARGS); // byte for byte what the upstream streamed
  const fc = fin.output.find((o) => o.type === 'function_call');
  assert.equal(fc.arguments, ARGS);
  assert.equal(fc.call_id, 'toolu_01A');
});

test('errors come back in OpenAI form with the parameter named', async () => {
  await assert.rejects(
    client.responses.create({ model: 'oai', input: 'x', previous_response_id: 'resp_1' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'previous_response_id' &&
           /keeps no state/.test(e.message));
  await assert.rejects(
    client.responses.create({ model: 'oai', input: 'x', tools: [{ type: 'web_search_preview' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tools.0');
  await assert.rejects(client.responses.create({ model: 'nope', input: 'x' }),
                       (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.responses.create({ model: 'oai-400', input: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError);
});

test('a broken upstream stream ends with response.failed', async () => {
  const stream = await client.responses.create({ model: 'oai-broken', input: 'x', stream: true });
  const types = [];
  for await (const e of stream) types.push(e.type);
  assert.equal(types[0], 'response.created');
  assert.equal(types[types.length - 1], 'response.failed');
});

test('budgets are charged with the translated usage', async () => {
  const c = new OpenAI({ baseURL: base, apiKey: BUDGET_KEY, maxRetries: 0 });
  // 9 prompt tokens at 0.2 USD each: 1.8 USD, so the second request is refused
  await c.responses.create({ model: 'priced', input: 'hi' });
  await assert.rejects(c.responses.create({ model: 'priced', input: 'hi' }),
                       (e) => e instanceof OpenAI.RateLimitError && e.code === 'insufficient_quota');
});

test('responses: native passes the body through to /v1/responses and relays the answer',
     async () => {
  const prompt =
    'girder_gateway_tokens_total{alias="native",deployment="native/ok-native",type="prompt"}';
  const before = await metric(prompt);
  const body = { model: 'native', input: [{ role: 'user', content: 'hi' }],
                 reasoning: { effort: 'low' }, tools: [{ type: 'web_search_preview' }] };
  const r = await client.responses.create(body);
  assert.equal(r.id, 'resp_mock1'); // the upstream's own object
  assert.equal(r.output_text, NATIVE_TEXT);
  const stats = await (await fetch(`http://127.0.0.1:${mport}/_stats`)).json();
  assert.equal(stats.last['ok-native'].target, '/v1/responses');
  // as sent, the model replaced: Responses-only fields reach an upstream that has them
  assert.deepEqual(await lastBody(mport, 'ok-native'), { ...body, model: 'ok-native' });
  assert.equal(await metric(prompt), before + 7); // usage read from the Response object

  const stream = client.responses.stream({ model: 'native', input: 'hi' });
  let text = '';
  stream.on('response.output_text.delta', (e) => { text += e.delta; });
  const fin = await stream.finalResponse();
  assert.equal(text, NATIVE_TEXT);
  assert.equal(fin.id, 'resp_mock1');
  assert.equal(await metric(prompt), before + 14); // and from response.completed
});

test('native: a broken stream is an error, an upstream 400 is relayed as it is',
     async () => {
  const stream = await client.responses.create({ model: 'native-broken', input: 'x',
                                                 stream: true });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
                       /upstream stream broken/);
  // err400 is not retryable: the client gets the upstream's 400 as it is
  await assert.rejects(client.responses.create({ model: 'native-400', input: 'x' }),
                       (e) => e instanceof OpenAI.BadRequestError && /mock: bad request/.test(e.message));
});
