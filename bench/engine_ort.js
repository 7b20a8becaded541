// Runs one model through onnxruntime-node (CPU): node engine_ort.js MODEL INPUT.npy OUT.npy
// THREADS REPEAT. Prints "latency_ms runs=N min=X median=Y" like `girder run --repeat`,
// after one warm-up run, and writes the first output as .npy (float32/int64 only).
const fs = require('fs');
const ort = require(process.env.ORT_NODE_DIR + '/node_modules/onnxruntime-node');

function readNpy(path) {
  const b = fs.readFileSync(path);
  const hlen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + hlen);
  const descr = /'descr': *'([^']+)'/.exec(header)[1];
  const shape = /'shape': *\(([^)]*)\)/.exec(header)[1].split(',').filter(s => s.trim())
      .map(s => parseInt(s, 10));
  const data = b.subarray(10 + hlen);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  if (descr === '<f4') return new ort.Tensor('float32', new Float32Array(copy.buffer), shape);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(copy.buffer), shape);
  throw new Error('unsupported npy dtype ' + descr);
}

function writeNpy(path, t) {
  const descr = t.type === 'float32' ? '<f4' : '<i8';
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${
      t.dims.length === 1 ? ',' : ''}), }`;
  const pad = (64 - ((10 + h.length + 1) % 64)) % 64;
  h = h + ' '.repeat(pad) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(h, 'latin1'), data]));
}

async function main() {
  const [model, input, out, threads, repeat] = process.argv.slice(2);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: parseInt(threads, 10), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all'});
  const feeds = {[sess.inputNames[0]]: readNpy(input)};
  let res = await sess.run(feeds);
  const ms = [];
  for (let i = 0; i < parseInt(repeat, 10); i++) {
    const t0 = process.hrtime.bigint();
    res = await sess.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(`latency_ms runs=${ms.length} min=${ms[0].toFixed(3)} median=${
      ms[Math.floor(ms.length / 2)].toFixed(3)}`);
  writeNpy(out, res[sess.outputNames[0]]);
}
main().catch(e => { console.error('engine_ort: ' + e.message); process.exit(1); });
