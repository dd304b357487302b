"""compare.py A.npz B.npz TOL [NAME...]: every array of A (or the named
ones) against B's; prints the largest difference and exits 1 above TOL."""
import sys

import numpy as np

a, b, tol = np.load(sys.argv[1]), np.load(sys.argv[2]), float(sys.argv[3])
names = sys.argv[4:] or [k for k in a.files if not k.endswith("num_batches_tracked")]
worst, where = 0.0, ""
for k in names:
    d = float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max())
    if d > worst or not where:
        worst, where = d, k
print(f"largest difference {worst:.3g} ({where}), tolerance {tol:g}")
sys.exit(0 if worst <= tol else 1)
