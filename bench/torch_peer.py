"""libtorch (PyTorch's CPU backend) on the peer cases FastLstm exported: same weights, inputs and sizes.

Usage: torch_peer.py CASES_DIR THREADS   (one process per thread count: OpenBLAS sizes its pool at import)
Prints CSV rows: engine,cell,batch,steps,hidden,threads,mode,median_seconds. Every case's output (and, for
training, the recurrent-weight and input gradients) is checked against FastLstm's before it is timed.
"""
import json
import os
import sys
import time

threads = int(sys.argv[2])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(threads)
# OpenMP threads that spin after each parallel region steal the cores OpenBLAS's own threads need: at 2 threads
# LSTM B16 T50 H512 takes 221 ms spinning, 37 ms passive (1 thread: 64 ms).
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
cases_dir = sys.argv[1]


def load(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(cases_dir, name), dtype=np.float32).reshape(shape))


def median_seconds(call, budget=2.0):
    for _ in range(3):
        call()
    rounds, start = [], time.perf_counter()
    while len(rounds) < 5 or (time.perf_counter() - start < budget and len(rounds) < 300):
        n, t0 = 0, time.perf_counter()
        while True:
            call()
            n += 1
            if time.perf_counter() - t0 >= 0.01:
                break
        rounds.append((time.perf_counter() - t0) / n)
    return float(np.median(rounds))


def check(what, ours, theirs):
    diff = (ours - theirs).abs().max().item()
    scale = max(theirs.abs().max().item(), 1e-3)
    if not diff <= 1e-3 * scale:
        raise SystemExit(f"{what}: libtorch and FastLstm differ by {diff:.2e} (scale {scale:.2e})")


for case in json.load(open(os.path.join(cases_dir, "cases.json"))):
    cell, b, t, h, training = case["cell"], case["batch"], case["steps"], case["hidden"], case["training"]
    name = case["name"]
    module = {"Lstm": torch.nn.LSTM, "Gru": torch.nn.GRU, "RnnTanh": torch.nn.RNN}[cell](h, h, batch_first=True)
    flat = np.fromfile(os.path.join(cases_dir, name + ".params"), dtype=np.float32)
    offset = 0
    with torch.no_grad():
        for _, p in module.named_parameters():  # PyTorch order: weight_ih, weight_hh, bias_ih, bias_hh
            p.copy_(torch.from_numpy(flat[offset:offset + p.numel()].reshape(p.shape)))
            offset += p.numel()
    x = load(name + ".input", (b, t, h))
    h0 = load(name + ".h0", (1, b, h))
    state = (h0, load(name + ".c0", (1, b, h))) if cell == "Lstm" else h0
    expected = load(name + ".output", (b, t, h))

    if training:
        d_output = load(name + ".doutput", (b, t, h))
        x.requires_grad_(True)

        def step():
            module.zero_grad(set_to_none=True)
            x.grad = None
            y, _ = module(x, state)
            y.backward(d_output)
            return y

        y = step()
        check(f"{cell} {name} output", y.detach(), expected)
        check(f"{cell} {name} grad weight_hh", module.weight_hh_l0.grad, load(name + ".grad_weight_hh", tuple(module.weight_hh_l0.shape)))
        check(f"{cell} {name} grad input", x.grad, load(name + ".dinput", (b, t, h)))
        mode, seconds = "train", median_seconds(step)
    else:
        with torch.inference_mode():
            y, _ = module(x, state)
            check(f"{cell} {name} output", y, expected)
            mode, seconds = ("step" if t == 1 else "sequence"), median_seconds(lambda: module(x, state))
    print(f"libtorch,{cell},{b},{t},{h},{threads},{mode},{seconds:.9g}", flush=True)
