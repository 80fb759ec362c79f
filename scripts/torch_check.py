#!/usr/bin/env python3
"""Loads a classifier saved by doll (`clf:save(path)`) into PyTorch with `load_state_dict` and
checks that it predicts what doll predicted.

    ../.venv-torch/bin/python scripts/torch_check.py model.safetensors io.safetensors

model.safetensors: written by `Classifier:save`; io.safetensors: `doll.save(path, {x = images,
p = clf:predict(images)})`. The module below is ResNetCXR of ../shared/reference/README.md with
the widths and blocks from the file's `doll.config`. Prints the largest difference and exits 1
when it exceeds 1e-4.
"""
import json, struct, sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info["dtype"]
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").copy()).reshape(info["shape"])
    return out, meta


class Block(nn.Module):
    def __init__(self, cin, cout, s):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, s, 1, bias=False); self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, s, 0, bias=False), nn.BatchNorm2d(cout))
                     if s != 1 or cin != cout else None)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNetCXR(nn.Module):
    def __init__(self, in_channels, widths, blocks, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        cin = widths[0]
        for i, (w, b) in enumerate(zip(widths, blocks)):
            setattr(self, f"layer{i + 1}", nn.Sequential(*[Block(cin if k == 0 else w, w, (1 if i == 0 else 2) if k == 0 else 1) for k in range(b)]))
            cin = w
        self.depth = len(widths)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.stem(x)
        for i in range(self.depth):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def main():
    weights, meta = read_safetensors(sys.argv[1])
    io, _ = read_safetensors(sys.argv[2])
    cfg = json.loads(meta["doll.config"])
    model = ResNetCXR(cfg["inChannels"], cfg["widths"], cfg["blocks"], len(cfg["classes"]))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        print(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        sys.exit(1)
    model.eval()
    with torch.no_grad():
        p = torch.sigmoid(model(io["x"]))
    diff = (p - io["p"]).abs().max().item()
    print(f"loaded {len(weights)} tensors into PyTorch {torch.__version__}; largest difference from doll's predictions {diff:.2e}")
    sys.exit(0 if diff < 1e-4 else 1)


if __name__ == "__main__":
    main()
