"""Generates the engine benchmark models as ONNX with random weights (fixed seed) and one
random input each: ResNet-18 and MobileNetV2 (torchvision) at 1x3x224x224, and a 6-layer
BERT-style encoder (hidden 384, 12 heads, FFN 1536, GELU, post-LayerNorm, sequence 128)
on int64 token ids. Usage: engine_models.py OUTDIR"""
import math
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn

OPSET = 17


class Attention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads, self.dh = heads, hidden // heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(x).split(h, dim=-1)
        q = q.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        k = k.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        v = v.reshape(b, s, self.heads, self.dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh), dim=-1)
        return self.out((a @ v).transpose(1, 2).reshape(b, s, h))


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.attn = Attention(hidden, heads)
        self.ln1 = nn.LayerNorm(hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.ln2 = nn.LayerNorm(hidden)

    def forward(self, x):
        x = self.ln1(x + self.attn(x))
        return self.ln2(x + self.ff(x))


class Encoder(nn.Module):
    def __init__(self, vocab=30522, hidden=384, heads=12, layers=6, seq=128):
        super().__init__()
        self.tok = nn.Embedding(vocab, hidden)
        self.pos = nn.Parameter(torch.randn(1, seq, hidden) * 0.02)
        self.ln = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList([Layer(hidden, heads, 4 * hidden) for _ in range(layers)])

    def forward(self, ids):
        x = self.ln(self.tok(ids) + self.pos)
        for layer in self.layers:
            x = layer(x)
        return x


def export(model, x, name, outdir):
    model.eval()
    path = os.path.join(outdir, name + ".onnx")
    with torch.no_grad():
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"],
                          opset_version=OPSET, do_constant_folding=True)
    np.save(os.path.join(outdir, name + ".input.npy"), x.numpy())
    print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB")


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    img = torch.randn(1, 3, 224, 224)
    export(torchvision.models.resnet18(), img, "resnet18", outdir)
    export(torchvision.models.mobilenet_v2(), img, "mobilenetv2", outdir)
    ids = torch.randint(0, 30522, (1, 128), dtype=torch.int64)
    export(Encoder(), ids, "bert6", outdir)


if __name__ == "__main__":
    main()
