"""Models and request bodies for bench/serve.sh. Usage: serve_models.py OUTDIR [MODELS...]

The engine benchmark's models (bench/engine_models.py) are exported with a fixed batch of 1,
but a model served with max_batch_size > 0 must leave dimension 0 open. This re-exports the
same modules with the same seed and the same RNG sequence as engine_models.py (so the
weights and inputs are the engine benchmark's) with a dynamic batch axis on input and output:
OUTDIR/{resnet18,bert6}.onnx, OUTDIR/NAME.input.npy (batch 1), and one KServe v2 JSON
request body per model, OUTDIR/NAME.body.json:
  {"inputs":[{"name":"input","shape":[1,...],"datatype":"FP32"|"INT64","data":[...]}]}
FP32 data is written with the shortest decimal that round-trips the float32 value."""
import json
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_models  # noqa: E402


def export(model, x, name, outdir):
    model.eval()
    path = os.path.join(outdir, name + ".onnx")
    with torch.no_grad():
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"],
                          opset_version=engine_models.OPSET, do_constant_folding=True,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    arr = x.numpy()
    np.save(os.path.join(outdir, name + ".input.npy"), arr)
    if arr.dtype == np.float32:
        dt, data = "FP32", ",".join(repr(v) for v in arr.reshape(-1))
    else:
        dt, data = "INT64", ",".join(str(int(v)) for v in arr.reshape(-1))
    body = '{"inputs":[{"name":"input","shape":%s,"datatype":"%s","data":[%s]}]}' % (
        json.dumps(list(arr.shape)), dt, data)
    with open(os.path.join(outdir, name + ".body.json"), "w") as f:
        f.write(body)
    print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB model, {len(body) / 1e6:.2f} MB body")


def main():
    outdir = sys.argv[1]
    want = set(sys.argv[2:]) or {"resnet18", "bert6"}
    os.makedirs(outdir, exist_ok=True)
    # Same calls in the same order as engine_models.main(), so the RNG gives the same
    # weights and inputs (mobilenet_v2 is built only to advance the generator).
    torch.manual_seed(0)
    img = torch.randn(1, 3, 224, 224)
    resnet = torchvision.models.resnet18()
    torchvision.models.mobilenet_v2()
    ids = torch.randint(0, 30522, (1, 128), dtype=torch.int64)
    bert = engine_models.Encoder()
    if "resnet18" in want:
        export(resnet, img, "resnet18", outdir)
    if "bert6" in want:
        export(bert, ids, "bert6", outdir)


if __name__ == "__main__":
    main()
