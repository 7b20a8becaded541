// The official `openai` npm SDK with girder virtual keys: rate-limit headers, typed errors
// for 401/403/429, a 429 the SDK retries by itself (Retry-After) and a budget refusal it
// must not retry (x-should-retry: false). Run by CTest: node --test <this file>
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

const KEY = { rpm: 'gk-sdk-rpm-1', conc: 'gk-sdk-conc-2', budget: 'gk-sdk-budget-3' };
const sha = (k) => createHash('sha256').update(k).digest('hex');
let mock, girder, base, mport;
const sdk = (key, maxRetries = 0) => new OpenAI({ baseURL: base, apiKey: key, maxRetries });
const hi = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

before(async () => {
  const m = await start(['/usr/bin/python3', path.join(here, 'mock_upstream.py')], /PORT (\d+)/);
  mock = m.p;
  mport = m.m[1];
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-gov-node-'));
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `listen: 127.0.0.1:0
threads: 1
access_log: {enabled: false}
providers:
  - {name: mock, base_url: "http://127.0.0.1:${mport}/v1", first_byte_timeout_ms: 5000}
models:
  - {alias: chat, deployments: [{provider: mock, model: ok-sdk}]}
  - {alias: slow, deployments: [{provider: mock, model: "slow:1200"}]}
  - {alias: priced, deployments: [{provider: mock, model: ok-sdk-priced}]}
governance:
  keys:
    - {id: sdk-rpm, key_sha256: ${sha(KEY.rpm)}, models: [chat], limits: {rpm: 3}}
    - {id: sdk-conc, key_sha256: ${sha(KEY.conc)}, limits: {concurrent: 1}}
    - {id: sdk-budget, key_sha256: ${sha(KEY.budget)}, budget: {usd: 1, period: monthly}}
  prices:
    - {model: ok-sdk-priced, input_per_1m: 200000, output_per_1m: 0}
`);
  const g = await start([process.env.GIRDER_BIN, 'serve', '--config', cfg, '--listen',
                         '127.0.0.1:0'], /msg=listening addr=127\.0\.0\.1:(\d+)/);
  girder = g.p;
  base = `http://127.0.0.1:${g.m[1]}/v1`;
});

after(() => {
  girder?.kill('SIGTERM');
  mock?.kill('SIGTERM');
});

async function metric(line) {
  const text = await (await fetch(base.replace('/v1', '/metrics'))).text();
  const m = text.split('\n').find((l) => l.startsWith(line + ' '));
  return m ? Number(m.split(' ')[1]) : 0;
}

test('a virtual key sees girder rate-limit headers, then a RateLimitError', async () => {
  const c = sdk(KEY.rpm);
  const { data, response } = await c.chat.completions.create(hi('chat')).withResponse();
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(response.headers.get('x-ratelimit-limit-requests'), '3');
  assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '2');
  assert.match(response.headers.get('x-ratelimit-reset-requests'), /^\d+(\.\d+)?m?s$|^\d+m/);
  await c.chat.completions.create(hi('chat'));
  await c.chat.completions.create(hi('chat'));
  await assert.rejects(c.chat.completions.create(hi('chat')), (e) =>
    e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === 'rate_limit_exceeded' &&
    Number(e.headers['retry-after']) >= 1 && e.headers['x-ratelimit-remaining-requests'] === '0');
});

test('wrong key and forbidden model map onto the SDK error classes', async () => {
  await assert.rejects(sdk('gk-nope').chat.completions.create(hi('chat')), (e) =>
    e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
  await assert.rejects(sdk(KEY.rpm).chat.completions.create(hi('slow')), (e) =>
    e instanceof OpenAI.PermissionDeniedError && e.code === 'model_not_allowed');
});

test('the SDK retries a concurrency 429 after Retry-After and succeeds', async () => {
  const refusals = 'girder_gateway_gov_refusals_total{kind="key",id="sdk-conc",reason="concurrent"}';
  const before = await metric(refusals);
  const first = sdk(KEY.conc).chat.completions.create(hi('slow')); // holds the only slot
  for (let i = 0; i < 200; i++) { // until the upstream has it
    const st = await (await fetch(`http://127.0.0.1:${mport}/_stats`)).json();
    if ((st.by_model['slow:1200'] || 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const t0 = Date.now();
  const second = await sdk(KEY.conc, 4).chat.completions.create(hi('chat'));
  assert.equal(second.choices[0].message.role, 'assistant');
  assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
  assert.ok(await metric(refusals) >= before + 1);
  await first;
});

test('an exhausted budget is insufficient_quota and not retried', async () => {
  const refusals = 'girder_gateway_gov_refusals_total{kind="key",id="sdk-budget",reason="budget"}';
  const c = sdk(KEY.budget, 3);
  for (let i = 0; i < 10; i++) { // 9 prompt tokens at 0.2 USD each: 1.8 USD per request
    try {
      await c.chat.completions.create(hi('priced'));
    } catch (e) {
      assert.ok(e instanceof OpenAI.RateLimitError);
      assert.equal(e.code, 'insufficient_quota');
      assert.equal(e.type, 'insufficient_quota');
      assert.equal(i, 1); // 1.8 USD charged by the first: the second is refused
      assert.equal(await metric(refusals), 1); // one refusal: the SDK did not retry
      return;
    }
  }
  assert.fail('budget never ran out');
});
