// The official `openai` npm SDK against girder's local embedding model: the SDK's default
// request (base64, which it decodes itself) and encoding_format 'float', several inputs.
// Run by CTest: node --test openai_embeddings.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const src = process.env.GIRDER_SRC || path.resolve(here, '../../..');
const { default: OpenAI } = await import(
  pathToFileURL(path.join(src, 'tests/node/node_modules/openai/index.mjs')).href);

function startGirder(cfg) {
  const env = { ...process.env };
  for (const k of ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY']) delete env[k];
  const p = spawn(process.env.GIRDER_BIN, ['serve', '--config', cfg, '--listen', '127.0.0.1:0'],
                  { env });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('girder did not start:\n' + out)), 10000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/msg=listening addr=(\S+)/);
      if (m) { clearTimeout(timer); resolve({ p, addr: m[1] }); }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (c) => reject(new Error('exited ' + c + ':\n' + out)));
  });
}

let girder, client;
before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'serve-node-'));
  execFileSync('/usr/bin/python3', [path.join(here, 'models.py'), dir, 'embed']);
  const cfg = path.join(dir, 'girder.yaml');
  writeFileSync(cfg, `threads: 1
access_log: {enabled: false}
serving:
  models:
    - name: tiny-embed
      path: embed.onnx
      embedding: {tokenizer: vocab.txt}
`);
  const g = await startGirder(cfg);
  girder = g.p;
  client = new OpenAI({ apiKey: 'unused-local', baseURL: `http://${g.addr}/v1`, maxRetries: 0 });
});
after(() => girder && girder.kill('SIGTERM'));

const INPUTS = ['The cat sat on the mat.', 'A dog runs fast!', 'hello world'];

test('default (base64) and float encodings agree, several inputs', async () => {
  const b = await client.embeddings.create({ model: 'tiny-embed', input: INPUTS });
  const f = await client.embeddings.create({ model: 'tiny-embed', input: INPUTS,
                                             encoding_format: 'float' });
  assert.equal(b.data.length, 3);
  assert.equal(f.model, 'tiny-embed');
  for (let i = 0; i < 3; i++) {
    assert.equal(b.data[i].index, i);
    const ve = b.data[i].embedding, vf = f.data[i].embedding;
    assert.ok(Array.isArray(ve) && ve.length === 32, 'SDK decoded base64 into 32 floats');
    for (let k = 0; k < 32; k++) assert.ok(Math.abs(ve[k] - vf[k]) < 1e-6);
    const norm = Math.sqrt(vf.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5);
  }
  assert.ok(f.usage.prompt_tokens > 3 && f.usage.total_tokens === f.usage.prompt_tokens);
});

test('similar texts are closer than different ones and errors surface as APIError', async () => {
  const r = await client.embeddings.create({
    model: 'tiny-embed', input: ['the cat sat', 'the cat sat', 'blue sky sea'],
    encoding_format: 'float' });
  const dot = (a, c) => a.reduce((s, x, i) => s + x * c[i], 0);
  assert.ok(Math.abs(dot(r.data[0].embedding, r.data[1].embedding) - 1) < 1e-5);
  assert.ok(dot(r.data[0].embedding, r.data[2].embedding) < 0.999);
  await assert.rejects(client.embeddings.create({ model: 'no-such', input: 'x' }),
                       (e) => e.status === 404 && /not a local embedding model/.test(e.message));
});
