// Peer for bench/serve.sh: the inference service a team would write without girder, i.e.
// onnxruntime-node (CPU) behind Node's http module, speaking the same KServe v2 JSON as
// `girder serve`: POST /v2/models/{name}/infer with
//   {"inputs":[{"name","shape","datatype","data"}], "outputs"?:[{"name"}], "id"?}
// answers {"model_name","model_version","id"?,"outputs":[{"name","datatype","shape","data"}]}
// (400 {"error"} for a bad request, 404 for an unknown model). No batching: one session,
// each request is one run. onnxruntime-node's session.run() executes synchronously on the
// main thread (from a setImmediate), so runs never overlap; the session gets THREADS
// intra-op threads, like girder's one instance with `threads: T`.
//
// usage: ORT_NODE_DIR=bench/engine-node node serve_ort.js HOST:PORT NAME MODEL.onnx THREADS
// Prints "listening HOST:PORT" once the model is loaded.
'use strict';
const http = require('http');
const ort = require(process.env.ORT_NODE_DIR + '/node_modules/onnxruntime-node');

const TYPES = {  // KServe datatype -> [ort type, typed array ctor, from JSON element]
  FP32: ['float32', Float32Array, Number], FP64: ['float64', Float64Array, Number],
  INT32: ['int32', Int32Array, Number], INT64: ['int64', BigInt64Array, BigInt],
  INT8: ['int8', Int8Array, Number], UINT8: ['uint8', Uint8Array, Number],
  BOOL: ['bool', Uint8Array, (v) => (v ? 1 : 0)],
};
const KSERVE = {};
for (const [k, v] of Object.entries(TYPES)) KSERVE[v[0]] = k;

function flatten(data, out) {
  for (const v of data) Array.isArray(v) ? flatten(v, out) : out.push(v);
  return out;
}

function toTensor(inp, meta) {
  const t = TYPES[inp.datatype];
  if (!t) throw new Error(`input '${inp.name}': unsupported datatype ${inp.datatype}`);
  if (meta && meta.type !== t[0])
    throw new Error(`input '${inp.name}': datatype ${inp.datatype}, model wants ${meta.type}`);
  const shape = inp.shape.map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const flat = inp.data.length && Array.isArray(inp.data[0]) ? flatten(inp.data, []) : inp.data;
  if (flat.length !== n) throw new Error(`input '${inp.name}': ${flat.length} elements, shape needs ${n}`);
  const arr = t[2] === Number ? t[1].from(flat) : t[1].from(flat, t[2]);
  return new ort.Tensor(t[0], arr, shape);
}

function outJson(name, t) {
  const data = t.type === 'int64' || t.type === 'uint64' ?
      Array.from(t.data, Number) : Array.from(t.data);
  return {name, datatype: KSERVE[t.type] || t.type.toUpperCase(), shape: t.dims, data};
}

function send(res, status, obj) {
  const b = JSON.stringify(obj);
  res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b)});
  res.end(b);
}

async function main() {
  const [listen, name, model, threads] = process.argv.slice(2);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: parseInt(threads, 10), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all'});
  const inMeta = {};
  (sess.inputMetadata || []).forEach((m) => { inMeta[m.name] = m; });
  const route = `/v2/models/${name}/infer`;

  async function infer(body, res) {
    let req;
    try { req = JSON.parse(body); } catch (e) { return send(res, 400, {error: 'malformed JSON: ' + e.message}); }
    const feeds = {};
    try {
      if (!Array.isArray(req.inputs)) throw new Error("'inputs' must be an array");
      for (const inp of req.inputs) {
        if (!sess.inputNames.includes(inp.name)) throw new Error(`unknown input '${inp.name}'`);
        feeds[inp.name] = toTensor(inp, inMeta[inp.name]);
      }
      for (const n of sess.inputNames) if (!feeds[n]) throw new Error(`missing input '${n}'`);
    } catch (e) { return send(res, 400, {error: e.message}); }
    const want = Array.isArray(req.outputs) ? req.outputs.map((o) => o.name) : sess.outputNames;
    let r;
    try { r = await sess.run(feeds, want); } catch (e) { return send(res, 500, {error: e.message}); }
    const out = {model_name: name, model_version: '1'};
    if (typeof req.id === 'string') out.id = req.id;
    out.outputs = want.map((n) => outJson(n, r[n]));
    send(res, 200, out);
  }

  const server = http.createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== route) {
      if (req.url === '/v2/health/ready') return send(res, 200, {ready: true});
      req.resume();
      return send(res, 404, {error: 'not found'});
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => infer(Buffer.concat(chunks).toString('utf8'), res)
        .catch((e) => send(res, 500, {error: String(e)})));
  });
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 125000;
  server.requestTimeout = 0;
  const i = listen.lastIndexOf(':');
  server.listen(parseInt(listen.slice(i + 1), 10), listen.slice(0, i), () => {
    console.log(`listening ${listen}`);
  });
}
main().catch((e) => { console.error('serve_ort: ' + e.message); process.exit(1); });
