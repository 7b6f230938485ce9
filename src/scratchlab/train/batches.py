"""`Batches`: the mini-batches of one epoch of `fit`, without copying the training set.

With `shuffle=False` batch j is rows j*n_batch:(j+1)*n_batch (DD2424 Assignment 1), handed over
as views (no copy); the last batch may be smaller. With `shuffle=True` the row order is
`rng.permutation(N)` each epoch and each batch is gathered with `np.take(..., out=)` into one
preallocated buffer. Full batch (`n_batch=None` or >= N) is one update per epoch on the whole
set (never shuffled: the order of a full batch does not change its gradient).

With a `transform` (e.g. `scratchlab.data.Standardiser`: uint8 pixels -> standardised
float32) X holds the rows as stored -- an array or a memory map -- and each batch's rows
(a view, or gathered) are transformed into one reused float32 buffer: memory is one batch,
whatever the size of X.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

Transform = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (rows, out) -> out


class Batches:
    """Yields `(Xb, yb)` for one epoch; reuses one batch buffer when gathering, copying or
    transforming (`dtype`: the transformed batch's, the model's)."""

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        n_batch: int | None,
        shuffle: bool,
        copy: bool,
        transform: Transform | None = None,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        self.X, self.y, self.n = X, y, len(X)
        self.size = self.n if n_batch is None else min(int(n_batch), self.n)
        self.shuffle = shuffle and self.size < self.n
        # augment may write into its input: never a view of X (a transform writes a buffer)
        gather = self.shuffle or (copy and transform is None)
        self.xbuf = np.empty((self.size, *X.shape[1:]), X.dtype) if gather else None
        self.ybuf = np.empty(self.size, y.dtype) if self.shuffle else None
        self.transform = transform
        self.zbuf = None if transform is None else np.empty((self.size, *X.shape[1:]), dtype)

    def __len__(self) -> int:
        return -(-self.n // self.size)

    def epoch(self, rng: np.random.Generator | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        perm = rng.permutation(self.n) if self.shuffle else None
        for start in range(0, self.n, self.size):
            stop = min(start + self.size, self.n)
            if perm is not None:
                idx = perm[start:stop]
                xb = np.take(self.X, idx, axis=0, out=self.xbuf[: stop - start], mode="clip")
                yb = np.take(self.y, idx, out=self.ybuf[: stop - start], mode="clip")
            else:
                xb, yb = self.X[start:stop], self.y[start:stop]
                if self.xbuf is not None:
                    buf = self.xbuf[: stop - start]
                    np.copyto(buf, xb)
                    xb = buf
            if self.transform is not None:
                xb = self.transform(xb, self.zbuf[: stop - start])
            yield xb, yb
