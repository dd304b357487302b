#!/usr/bin/python3
"""report.py - the table of issue 13 from bench/run.sh's raw results.

Usage: report.py RESULTS META OUT.md

RESULTS holds one line per measurement and round:
    MODEL IMPL MODE BATCH SECONDS_PER_STEP SAMPLES_PER_S ITERS
IMPL: nncc:<cc>-<flags> (flags O2 or O3n for -O3 -march=native), torch:<T>+<B>
(T torch threads, B OpenBLAS threads), xnn:<threads>, bound; MODE: train,
infer, infer-freeze, infer-ofi.  Peak RSS lines: MODEL rss:<build> peak KB.
META holds `key: value` lines (machine, versions, threads), printed as they are.

Every figure is the median over the rounds of each round's median; PyTorch's
row is its best (setting, mode) by that median.  Prints the table, the ratios
and the targets, and writes the same text to OUT.md.
"""
import collections
import math
import statistics
import sys

MODELS = ("fashion_mlp", "fashion_cnn")
BUILDS = (("gcc-O2", "gcc -O2"), ("gcc-O3n", "gcc -O3 -march=native"),
          ("clang-O2", "clang -O2"), ("clang-O3n", "clang -O3 -march=native"))
TORCH_MODES = {"infer": "eager", "infer-freeze": "jit.freeze", "infer-ofi": "optimize_for_inference",
               "train": "eager"}
MB = 1024.0  # KB per MB (the MiB of /usr/bin/time -v's kbytes)


def read(path):
    runs = collections.defaultdict(list)
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[0] in MODELS:
            runs[f[0], f[1], f[2]].append(float(f[4]))
    return {k: statistics.median(v) for k, v in runs.items()}


def torch_best(med, model, mode):
    """The lowest median over PyTorch's settings (and jit modes for inference)."""
    modes = ("train",) if mode == "train" else ("infer", "infer-freeze", "infer-ofi")
    cands = [(t, impl.split(":")[1], m) for (mo, impl, m), t in med.items()
             if mo == model and impl.startswith("torch:") and m in modes]
    if not cands:
        return None, ""
    t, setting, m = min(cands)
    threads, blas = setting.split("+")
    return t, f"{TORCH_MODES[m]}, {threads} torch + {blas} OpenBLAS"


def sig3(x):
    """x with 3 significant digits, never in exponent form (1580, 38.9, 0.512)."""
    digits = 2 - math.floor(math.log10(abs(x))) if x else 0
    return f"{round(x, digits):.{max(0, digits)}f}"


def fmt_time(t, mode, batch):
    if t is None:
        return "-"
    if mode == "train":
        sps = batch / t
        return f"{sig3(sps / 1e3)}k/s, {sig3(t * 1e3)} ms" if sps >= 1e3 else f"{sig3(sps)}/s, {sig3(t * 1e3)} ms"
    return f"{sig3(t * 1e6)} us"


def ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else None


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}" if r >= 0.1 else sig3(r)


class Report:
    def __init__(self, med, threads):
        self.med, self.threads, self.lines = med, threads, []

    def out(self, s=""):
        self.lines.append(s)

    def get(self, model, impl, mode):
        return self.med.get((model, impl, mode))

    def xnn_best(self, model):
        """XNNPACK's lowest median at 1 to THREADS threads, and that count."""
        cands = [(t, int(impl[4:])) for (m, impl, mode), t in self.med.items()
                 if m == model and mode == "infer" and impl.startswith("xnn:")
                 and int(impl[4:]) <= int(self.threads)]
        return min(cands) if cands else (None, 0)

    def table(self):
        head = ["row"] + [f"nncc {name}" for _, name in BUILDS] + [
            "PyTorch at its best", "XNNPACK 1 thread", "XNNPACK 2 threads", "bound"]
        self.out("| " + " | ".join(head) + " |")
        self.out("|" + "---|" * len(head))
        for mode, batch in (("train", 128), ("infer", 1)):
            for m in MODELS:
                row = [f"{m} {'training, batch 128' if mode == 'train' else 'inference, batch 1'}"]
                row += [fmt_time(self.get(m, "nncc:" + b, mode), mode, batch) for b, _ in BUILDS]
                t, how = torch_best(self.med, m, mode)
                row.append(f"{fmt_time(t, mode, batch)} ({how})" if t else "-")
                for x in ("1", "2"):
                    row.append(fmt_time(self.get(m, "xnn:" + x, mode), mode, batch)
                               if mode == "infer" else "")
                row.append(fmt_time(self.get(m, "bound", mode), mode, batch))
                self.out("| " + " | ".join(row) + " |")
        row = ["peak RSS, training (data set included)"]
        for b, _ in BUILDS:
            rss = [self.get(m, "rss:" + b, "peak") for m in MODELS]
            row.append(" / ".join("-" if r is None else f"{r / MB:.0f} MB" for r in rss)
                       if any(rss) else "")
        row += ["", "", "", ""]
        self.out("| " + " | ".join(row) + " |")

    def ratios(self):
        self.out("| row | nncc build | PyTorch / nncc | XNNPACK / nncc | nncc / bound |")
        self.out("|---|---|---:|---:|---:|")
        for mode in ("train", "infer"):
            for m in MODELS:
                t_pt, _ = torch_best(self.med, m, mode)
                xnn = self.xnn_best(m)[0] if mode == "infer" else None
                bound = self.get(m, "bound", mode)
                for b, name in BUILDS:
                    t = self.get(m, "nncc:" + b, mode)
                    self.out(f"| {m} {mode} | {name} | {fmt_ratio(ratio(t_pt, t))} | "
                             f"{fmt_ratio(ratio(xnn, t))} | {fmt_ratio(ratio(t, bound))} |")

    def target(self, text, r, ok, shown=None):
        state = "-" if r is None else ("met" if ok(r) else "not met")
        self.out(f"target {text}: {state} ({fmt_ratio(r) if shown is None else shown})")

    def targets(self, build, name):
        g = self.get
        t_pt = {(m, mode): torch_best(self.med, m, mode)[0] for m in MODELS for mode in ("train", "infer")}
        x = self.threads
        for m, speed, bound in (("fashion_mlp", 2.0, 1.2), ("fashion_cnn", 2.5, 1.6)):
            t = g(m, "nncc:" + build, "train")
            self.target(f"{m} training b128, nncc {name}: >= {speed}x PyTorch's samples/s (PyTorch / nncc)",
                        ratio(t_pt[m, "train"], t), lambda r, s=speed: r >= s)
            self.target(f"{m} training b128, nncc {name}: step <= {bound}x its GEMM bound (nncc / bound)",
                        ratio(t, g(m, "bound", "train")), lambda r, b=bound: r <= b)
        for m, speed, xnn in (("fashion_mlp", 5.0, 1.0), ("fashion_cnn", 3.0, 1.4)):
            t = g(m, "nncc:" + build, "infer")
            t_x, n_x = self.xnn_best(m)
            self.target(f"{m} inference b1, nncc {name}: >= {speed}x faster than PyTorch's best (PyTorch / nncc)",
                        ratio(t_pt[m, "infer"], t), lambda r, s=speed: r >= s)
            self.target(f"{m} inference b1, nncc {name}: <= {xnn}x XNNPACK at up to {x} threads, its best "
                        f"{n_x} (nncc / XNNPACK)", ratio(t, t_x), lambda r, q=xnn: r <= q)
        if build != "gcc-O2":
            worst = None
            for m in MODELS:
                for mode in ("train", "infer"):
                    r = ratio(g(m, "nncc:" + build, mode), g(m, "nncc:gcc-O2", mode))
                    worst = r if worst is None or (r is not None and r > worst) else worst
            self.target(f"nncc {name} not slower than gcc -O2 in any row (worst time ratio)",
                        worst, lambda r: r <= 1.0, None if worst is None else f"{worst:.3f}")
        for m in MODELS:
            rss = g(m, "rss:" + build, "peak")
            if rss is not None:
                self.target(f"{m} peak RSS training, nncc {name}: < 100 MB",
                            rss / MB, lambda r: r < 100, f"{rss / MB:.0f} MB")


def main():
    results, meta_path, out_path = sys.argv[1:4]
    meta = [line.rstrip("\n") for line in open(meta_path)]
    threads = next((line.split(":", 1)[1].strip() for line in meta if line.startswith("threads:")), "2")
    r = Report(read(results), threads)
    r.out("# Issue 13 benchmark (bench/run.sh)")
    r.out()
    for line in meta:
        r.out(f"- {line}")
    r.out()
    r.out("Medians over the rounds of each round's median. Training: samples/s and ms per step at "
          "batch 128; inference: us per call at batch 1. nncc at "
          f"{threads} OpenBLAS threads; PyTorch's best setting and mode in brackets.")
    r.out()
    r.table()
    r.out()
    r.out("Ratios of times (PyTorch / nncc and XNNPACK / nncc above 1: nncc faster; "
          "XNNPACK at its best of 1 to THREADS threads; nncc / bound: 1 would be the bound):")
    r.out()
    r.ratios()
    r.out()
    for m in MODELS:
        one, two = r.get(m, "xnn:1", "infer"), r.get(m, "xnn:2", "infer")
        if one and two and two > one:
            r.out(f"Note: XNNPACK's {m} is slower at 2 threads than at 1 ({fmt_ratio(two / one)}x): its pool's "
                  "threads wait for one another, and on a loaded machine for a core.")
    r.out()
    r.out("Targets of issue 13 (ratios as in brackets):")
    r.out()
    r.out("```")
    for build, name in BUILDS:
        r.targets(build, name)
    r.out("target accuracy (fashion_mlp 89.7%, fashion_cnn >= 92.5%): not measured here "
          "(full training runs: docs/results.md)")
    r.out("```")
    r.out()
    r.out("Raw lines (model impl mode batch median_s_per_step samples_per_s iters_per_run; rss: KB):")
    r.out()
    r.out("```")
    r.lines += [line.rstrip("\n") for line in open(results)]
    r.out("```")
    text = "\n".join(r.lines) + "\n"
    sys.stdout.write(text)
    with open(out_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
