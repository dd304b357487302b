#!/usr/bin/python3
"""torch_bench.py - the models of models/fashion_mlp.nn and models/fashion_cnn.nn
written with torch.nn, timed as bench.c times the generated C: train steps
(SGD momentum 0.9, weight decay 5e-4, CrossEntropyLoss) at TRAIN_BATCH and
batch inference in eval mode under torch.no_grad() at INFER_BATCH, three ways:
eager, torch.jit.freeze of the scripted module, and
torch.jit.optimize_for_inference of it; warm-up, calibration of N, RUNS runs of
N iterations, the median per step. Prints
    train BATCH MEDIAN_SECONDS_PER_STEP SAMPLES_PER_SECOND N
    infer BATCH MEDIAN_SECONDS_PER_STEP SAMPLES_PER_SECOND N
    infer-freeze BATCH ...
    infer-ofi BATCH ...
THREADS goes to torch.set_num_threads; OpenBLAS's threads (which torch uses
for some GEMMs) come from OPENBLAS_NUM_THREADS in the environment.

Usage: /usr/bin/python3 torch_bench.py MODEL THREADS [TRAIN_BATCH INFER_BATCH RUNS SECONDS]
  MODEL: fashion_mlp or fashion_cnn
"""
import statistics
import sys
import time

import torch
from torch import nn


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x):
        return (x - self.mean) / self.std


def fashion_mlp():
    return nn.Sequential(
        nn.Flatten(), Normalize(0.2860, 0.3530),
        nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 10))


def fashion_cnn():
    return nn.Sequential(
        Normalize(0.2860, 0.3530),
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))


def time_it(fn, runs, seconds):
    warm = min(seconds, 0.2)
    t0, n = time.perf_counter(), 0
    while True:  # warm-up
        fn()
        n += 1
        t = time.perf_counter() - t0
        if n >= 3 and t >= warm:
            break
    t0, n = time.perf_counter(), 0
    while True:  # calibration: N
        fn()
        n += 1
        t = time.perf_counter() - t0
        if n >= 2 and t >= 0.1:
            break
    iters = max(1, int(seconds / (t / n) + 0.5))
    per = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        per.append((time.perf_counter() - t0) / iters)
    return statistics.median(per), iters


def main():
    name, threads = sys.argv[1], int(sys.argv[2])
    train_batch, infer_batch, runs = (int(v) for v in (sys.argv[3:6] or (128, 1, 7)))
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 0.3
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = {"fashion_mlp": fashion_mlp, "fashion_cnn": fashion_cnn}[name]()
    shape = (1, 28, 28)
    x = torch.rand(train_batch, *shape)
    y = torch.randint(0, 10, (train_batch,))
    xi = torch.rand(infer_batch, *shape)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    def infer_with(fn):
        def infer():
            with torch.no_grad():
                fn(xi)
        return infer

    model.train()
    t, n = time_it(train, runs, seconds)
    print(f"train {train_batch} {t:.9g} {train_batch / t:.6g} {n}")
    model.eval()
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.script(model))
        optimized = torch.jit.optimize_for_inference(torch.jit.script(model))
    for mode, fn in (("infer", model), ("infer-freeze", frozen), ("infer-ofi", optimized)):
        t, n = time_it(infer_with(fn), runs, seconds)
        print(f"{mode} {infer_batch} {t:.9g} {infer_batch / t:.6g} {n}", flush=True)


if __name__ == "__main__":
    main()
