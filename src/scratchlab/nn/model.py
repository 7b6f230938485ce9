"""`Sequential`: a stack of layers, a loss and weight regularisers (Keras vocabulary).

The cost trained on is `J = loss(scores, y) + sum_r sum_W r.penalty(W)` over the weights
each layer lists in `regularised`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scratchlab.errors import DataError
from scratchlab.nn.layers import Layer
from scratchlab.nn.losses import Loss, get_loss
from scratchlab.nn.regularisers import Regulariser

Transform = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (stored rows, out) -> inputs
TRANSFORM_BLOCK = 256  # rows per transformed block (CIFAR: 3 MB of float32)


class Sequential:
    """`Sequential(layers, loss="cross_entropy", regularisers=())`; X: (N, d) -> scores (N, K)."""

    def __init__(
        self,
        layers: Iterable[Layer],
        loss: Loss | str = "cross_entropy",
        regularisers: Sequence[Regulariser] = (),
    ) -> None:
        self.layers: list[Layer] = list(layers)
        self.loss: Loss = get_loss(loss) if isinstance(loss, str) else loss
        self.regularisers: tuple[Regulariser, ...] = tuple(regularisers)

    # ---------------------------------------------------------------- structure
    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters (float32 for training, float64 for gradient checks)."""
        for layer in self.layers:
            if layer.params:
                return layer.dtype
        return self.layers[0].dtype if self.layers else np.dtype(np.float32)

    @property
    def input_dim(self) -> int | None:
        """Number of input features the first parametric layer expects (None: any)."""
        for layer in self.layers:
            if layer.params:
                return int(getattr(layer, "d_in", getattr(layer, "d", 0))) or None
        return None

    def parameters(self) -> list[tuple[int, str, np.ndarray, np.ndarray]]:
        """[(layer_index, name, param, grad)] for every trainable array, in layer order."""
        return [
            (i, name, p, layer.grads[name])
            for i, layer in enumerate(self.layers)
            for name, p in layer.params.items()
        ]

    def count_params(self) -> tuple[int, int]:
        """(trainable, non-trainable) number of scalars; non-trainable = BN running stats."""
        trainable = sum(p.size for layer in self.layers for p in layer.params.values())
        frozen = sum(b.size for layer in self.layers for b in layer.buffers.values())
        return trainable, frozen

    # ------------------------------------------------------------ computation
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """X: (N, d) -> scores: (N, K). `training` selects batch statistics and dropout."""
        X = np.asarray(X, dtype=self.dtype)
        d = self.input_dim
        if X.ndim != 2 or (d is not None and X.shape[1] != d):
            raise DataError(f"model expects inputs of shape (N, {d}), got {X.shape}")
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def backward(self, dscores: np.ndarray) -> None:
        """Back-propagate dL/dscores: (N, K) through the layers, filling every layer's grads.

        Stops at the first parametric layer, whose dx (the gradient w.r.t. the data) no
        one needs.
        """
        first = next((i for i, layer in enumerate(self.layers) if layer.params), None)
        if first is None:
            return
        dout = dscores
        for i in range(len(self.layers) - 1, first - 1, -1):
            dout = self.layers[i].backward(dout, need_dx=i > first)

    def _add_regulariser_grads(self) -> None:
        """dJ/dW = dL/dW + sum_r dr(W)/dW for each regularised weight W."""
        for layer in self.layers:
            for name in layer.regularised:
                for reg in self.regularisers:
                    reg.add_grad(layer.params[name], layer.grads[name])

    def train_step_grads(self, X: np.ndarray, y: np.ndarray) -> float:
        """Forward (training mode), loss, backward, regulariser grads; returns the data loss.

        Afterwards every `grad` in `parameters()` holds dJ/dparam for the cost
        J = loss + penalty on this batch.
        """
        scores = self.forward(X, training=True)
        loss, dscores = self.loss.loss_and_grad(scores, y)
        self.backward(dscores)
        self._add_regulariser_grads()
        return loss

    def penalty(self) -> float:
        """sum over regularisers r and regularised weights W of r.penalty(W)."""
        return float(
            sum(
                reg.penalty(layer.params[name])
                for layer in self.layers
                for name in layer.regularised
                for reg in self.regularisers
            )
        )

    def cost(self, X: np.ndarray, y: np.ndarray, training: bool = False) -> float:
        """J = loss(forward(X), y) + penalty(), in one pass (used by gradient checks)."""
        return self.loss.loss(self.forward(X, training), y) + self.penalty()

    def evaluate(
        self, X: np.ndarray, y: np.ndarray, chunk: int = 10000, transform: Transform | None = None
    ) -> dict[str, float]:
        """{"loss", "cost", "acc"} on (X, y) in evaluation mode, `chunk` rows at a time.

        `transform(rows, out) -> out` (e.g. `scratchlab.data.Standardiser`) maps the stored
        rows of X (uint8, a memory map) to inputs block by block (see `chunk_scores`).
        """
        n = X.shape[0]
        if n == 0:
            raise DataError("cannot evaluate a model on 0 samples")
        total, correct = 0.0, 0
        for start, scores in self.chunk_scores(X, chunk, transform):
            yc = y[start : start + chunk]
            total += self.loss.loss(scores, yc) * yc.shape[0]
            correct += int(np.count_nonzero(scores.argmax(axis=1) == yc))
        loss = total / n
        return {"loss": loss, "cost": loss + self.penalty(), "acc": correct / n}

    def chunk_scores(
        self, X: np.ndarray, chunk: int = 10000, transform: Transform | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """`(start, scores of X[start:start + chunk])` in evaluation mode, chunk by chunk.

        With `transform`, each chunk is transformed and scored `TRANSFORM_BLOCK` rows at a
        time through one reused buffer (memory: one block, in cache). A multiple of the row
        blocks of scratchlab.nn.blas (32 and 256), so each row's products are summed as for
        the whole chunk: the scores equal those of transforming X first, bit for bit.
        """
        n = X.shape[0]
        rows = min(TRANSFORM_BLOCK, n)
        buf = None if transform is None else np.empty((rows, *X.shape[1:]), self.dtype)
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            if buf is None:
                yield start, self.forward(X[start:stop])
                continue
            blocks = []
            for s in range(start, stop, rows):
                e = min(s + rows, stop)
                blocks.append(self.forward(transform(X[s:e], buf[: e - s])))
            yield start, blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def predict_scores(
        self, X: np.ndarray, chunk: int = 10000, transform: Transform | None = None
    ) -> np.ndarray:
        """Scores (N, K) in evaluation mode, computed `chunk` rows at a time."""
        parts = [scores for _, scores in self.chunk_scores(X, chunk, transform)]
        if not parts:
            return self.forward(np.empty((0, *X.shape[1:]), self.dtype))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict(
        self, X: np.ndarray, chunk: int = 10000, transform: Transform | None = None
    ) -> np.ndarray:
        """Predicted class per row: (N,) int64."""
        return self.predict_scores(X, chunk, transform).argmax(axis=1).astype(np.int64)

    def predict_proba(
        self, X: np.ndarray, chunk: int = 10000, transform: Transform | None = None
    ) -> np.ndarray:
        """Class probabilities (N, K) from the loss's `predict_proba` (softmax of scores)."""
        return self.loss.predict_proba(self.predict_scores(X, chunk, transform))

    # ------------------------------------------------------------- weights
    def get_weights(self) -> dict[str, np.ndarray]:
        """Copies of every param and buffer, keyed "<layer index>.<name>" (e.g. "0.W")."""
        return {
            f"{i}.{name}": array.copy()
            for i, layer in enumerate(self.layers)
            for store in (layer.params, layer.buffers)
            for name, array in store.items()
        }

    def set_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Copy `weights` (as from `get_weights`) into the model's arrays, in place."""
        targets = {
            f"{i}.{name}": array
            for i, layer in enumerate(self.layers)
            for store in (layer.params, layer.buffers)
            for name, array in store.items()
        }
        missing, extra = set(targets) - set(weights), set(weights) - set(targets)
        if missing or extra:
            raise DataError(
                f"weights do not match the model: missing {sorted(missing)}, "
                f"unexpected {sorted(extra)}"
            )
        for key, target in targets.items():
            value = np.asarray(weights[key])
            if value.shape != target.shape:
                raise DataError(f"weight {key}: shape {value.shape}, model has {target.shape}")
            np.copyto(target, value, casting="same_kind")

    def astype(self, dtype: np.dtype | type) -> Sequential:
        """A deep copy of the model with every array in `dtype` (float64 for gradient checks)."""
        model = self.copy()
        for layer in model.layers:
            layer.astype(dtype)
        return model

    def copy(self) -> Sequential:
        """An independent deep copy (layers, loss, regularisers, dropout generators).

        Forward caches are dropped first (in this model too) so they are not copied.
        """
        for layer in self.layers:
            layer.clear_cache()
        return copy.deepcopy(self)

    # ------------------------------------------------------- description, io
    def config(self) -> dict[str, Any]:
        """JSON-able description from which `from_config` rebuilds the architecture."""
        from scratchlab.nn.serialize import model_config

        return model_config(self)

    @classmethod
    def from_config(
        cls, config: dict[str, Any], rng: np.random.Generator | None = None
    ) -> Sequential:
        from scratchlab.nn.serialize import parts_from_config

        return cls(*parts_from_config(config, rng))

    def save(self, path: str | Path) -> Path:
        """Write params, BN running stats and the config (JSON) to an .npz file (no pickle)."""
        from scratchlab.nn.serialize import save_model

        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Path, rng: np.random.Generator | None = None) -> Sequential:
        """Rebuild a model written by `save`; raises DataError for a missing/corrupt file."""
        from scratchlab.nn.serialize import load_model

        return load_model(path, lambda config: cls.from_config(config, rng))

    def summary(self, input_dim: int | None = None) -> str:
        """A Keras-style table: Layer (type), Output Shape, Param #, then the totals."""
        from scratchlab.nn.serialize import summary_table

        return summary_table(self, input_dim)

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        regs = ", ".join(repr(r) for r in self.regularisers)
        return f"Sequential([{layers}], loss={self.loss!r}, regularisers=({regs}))"
