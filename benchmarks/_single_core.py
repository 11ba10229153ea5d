"""Import first in a benchmark script: pins BLAS / OpenMP / Numba to one thread before numpy loads,
so "per core" numbers mean one core."""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"
