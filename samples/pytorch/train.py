#!/usr/bin/python3
"""Trains two small PyTorch models on the shipped samples and exports them with torch.onnx.export: what someone who
trains elsewhere brings to FastLstm. Run with Debian's python3-torch and python3-onnx (CPU, about a minute):

    /usr/bin/python3 samples/pytorch/train.py

Writes, next to this script:
  air-passengers-lstm.onnx      nn.LSTM(1, 32) + Linear on the last step: the next month from 24 normalised months
  air-passengers-lstm.json      the normalisation (mean, scale) and window it was trained with
  air-passengers-lstm.expected.csv   PyTorch's own 24-month forecast after the whole series (fed back month by month)
  genesis-lstm.onnx             Embedding + nn.LSTM(32, 128) + Linear on every step, states as inputs and outputs
  genesis-lstm.expected.txt     PyTorch's greedy (argmax) continuation of a prompt, one character at a time
The tests run FastLstm on these files and compare with the expected outputs.
"""
import csv
import json
import os

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.dirname(HERE)
torch.set_num_threads(2)


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.head(y[:, -1])


def air_passengers():
    torch.manual_seed(1)
    with open(os.path.join(SAMPLES, "air-passengers.csv")) as f:
        values = np.array([float(row[1]) for row in list(csv.reader(f))[1:]])
    window, held_out = 24, 24
    train = values[:-held_out]
    mean, scale = float(train.mean()), float(train.std())
    z = (train - mean) / scale
    xs = np.stack([z[i:i + window] for i in range(len(z) - window)])[:, :, None]
    ys = z[window:][:, None]
    x, y = torch.tensor(xs, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32)
    model = Forecaster()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(600):
        optimiser.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimiser.step()
    model.eval()

    def forecast(history, steps):
        window_values = list(history[-window:])
        out = []
        with torch.no_grad():
            for _ in range(steps):
                inp = torch.tensor(((np.array(window_values) - mean) / scale).astype(np.float32))[None, :, None]
                v = float(model(inp)[0, 0]) * scale + mean
                out.append(v)
                window_values = window_values[1:] + [v]
        return out

    held = forecast(train, held_out)
    rmse = float(np.sqrt(np.mean((np.array(held) - values[-held_out:]) ** 2)))
    naive = float(np.sqrt(np.mean((values[-held_out - 12:-12] - values[-held_out:]) ** 2)))
    print(f"air passengers: held-out 24-month RMSE {rmse:.1f} (seasonal naive {naive:.1f}); mean {mean!r}, scale {scale!r}")
    path = os.path.join(HERE, "air-passengers-lstm.onnx")
    torch.onnx.export(model, torch.zeros(1, window, 1), path, input_names=["input"], output_names=["prediction"],
                      dynamic_axes={"input": {0: "batch", 1: "seq"}, "prediction": {0: "batch"}}, opset_version=14)
    with open(os.path.join(HERE, "air-passengers-lstm.json"), "w") as f:
        json.dump({"mean": mean, "scale": scale, "lookback": window, "held_out_rmse": rmse, "seasonal_naive_rmse": naive}, f, indent=2)
        f.write("\n")
    with open(os.path.join(HERE, "air-passengers-lstm.expected.csv"), "w") as f:
        f.write("step,forecast\n")
        for k, v in enumerate(forecast(values, 24)):
            f.write(f"{k + 1},{v!r}\n")


class CharModel(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.lstm = nn.LSTM(32, 128, batch_first=True)
        self.head = nn.Linear(128, vocab)

    def forward(self, tokens, h0, c0):
        y, (h, c) = self.lstm(self.embed(tokens), (h0, c0))
        return self.head(y), h, c


def genesis():
    torch.manual_seed(2)
    with open(os.path.join(SAMPLES, "genesis-kjv.txt"), encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    codes = torch.tensor([index[c] for c in text])
    streams, seq = 32, 100
    per_stream = (len(codes) - 1) // streams
    model = CharModel(len(chars))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(12):
        h = torch.zeros(1, streams, 128)
        c = torch.zeros(1, streams, 128)
        total, count = 0.0, 0
        for start in range(0, per_stream - seq, seq):
            rows = torch.arange(streams) * per_stream + start
            x = torch.stack([codes[r:r + seq] for r in rows])
            y = torch.stack([codes[r + 1:r + seq + 1] for r in rows])
            optimiser.zero_grad()
            logits, h, c = model(x, h.detach(), c.detach())
            loss = nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5)
            optimiser.step()
            total += float(loss)
            count += 1
        print(f"genesis: epoch {epoch + 1}, {total / count / np.log(2):.3f} bits per character")
    model.eval()
    prompt = "And God said"
    with torch.no_grad():
        h, c = torch.zeros(1, 1, 128), torch.zeros(1, 1, 128)
        out = prompt
        for ch in prompt:
            logits, h, c = model(torch.tensor([[index[ch]]]), h, c)
        for _ in range(200):
            k = int(logits[0, -1].argmax())
            out += chars[k]
            logits, h, c = model(torch.tensor([[k]]), h, c)
    with open(os.path.join(HERE, "genesis-lstm.expected.txt"), "w", encoding="utf-8") as f:
        f.write(out)
    path = os.path.join(HERE, "genesis-lstm.onnx")
    torch.onnx.export(model, (torch.zeros(1, 1, dtype=torch.long), torch.zeros(1, 1, 128), torch.zeros(1, 1, 128)), path,
                      input_names=["tokens", "h0", "c0"], output_names=["logits", "h_n", "c_n"],
                      dynamic_axes={"tokens": {0: "batch", 1: "seq"}, "h0": {1: "batch"}, "c0": {1: "batch"}}, opset_version=14)


if __name__ == "__main__":
    air_passengers()
    genesis()
