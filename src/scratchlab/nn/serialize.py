"""Model description and storage: config dicts, .npz save/load (no pickle), `summary()`.

File layout (`numpy.savez`): one array per param/buffer keyed "<layer index>.<name>"
(e.g. "0.W", "1.running_mean") plus "__config__", a 0-d unicode array holding the JSON
config. Loading uses `allow_pickle=False`, so a file can never run code.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scratchlab.errors import ConfigError, DataError
from scratchlab.io import atomic_open
from scratchlab.nn.batchnorm import BatchNorm
from scratchlab.nn.layers import Dropout, Layer, Linear, ReLU
from scratchlab.nn.losses import get_loss
from scratchlab.nn.regularisers import get_regulariser

Sequential = Any  # scratchlab.nn.model.Sequential (not imported: model.py imports this module)

FORMAT = "scratchlab.Sequential"
VERSION = 1
CONFIG_KEY = "__config__"
LAYER_TYPES: dict[str, type[Layer]] = {
    "Linear": Linear,
    "ReLU": ReLU,
    "Dropout": Dropout,
    "BatchNorm": BatchNorm,
}
_TAKES_RNG = ("Linear", "Dropout")


def model_config(model: Sequential) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "dtype": model.dtype.name,
        "layers": [layer.config() for layer in model.layers],
        "loss": model.loss.config(),
        "regularisers": [reg.config() for reg in model.regularisers],
    }


def parts_from_config(config: dict[str, Any], rng: np.random.Generator | None = None) -> tuple:
    """`(layers, loss, regularisers)` (freshly initialised weights) from `model_config` output:
    `Sequential(*parts)` rebuilds the architecture."""
    rng = np.random.default_rng(0) if rng is None else rng
    try:
        if config.get("format") != FORMAT:
            raise ConfigError(f"not a {FORMAT} config (format={config.get('format')!r})")
        if int(config.get("version", 0)) > VERSION:
            raise ConfigError(
                f"config version {config['version']} is newer than this scratchlab "
                f"understands ({VERSION}); upgrade scratchlab"
            )
        dtype = np.dtype(config.get("dtype", "float32"))
        layers = []
        for spec in config["layers"]:
            kwargs = dict(spec)
            kind = kwargs.pop("type")
            if kind not in LAYER_TYPES:
                raise ConfigError(f"unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}")
            if kind in _TAKES_RNG:
                kwargs["rng"] = rng
            layers.append(LAYER_TYPES[kind](**kwargs, dtype=dtype))
        loss_kwargs = dict(config["loss"])
        loss = get_loss(loss_kwargs.pop("type"), **loss_kwargs)
        regs = [get_regulariser(r["type"], r["lam"]) for r in config.get("regularisers", [])]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"invalid model config ({type(exc).__name__}: {exc})") from exc
    return layers, loss, regs


def save_model(model: Sequential, path: str | Path) -> Path:
    """Write `model` to `path` (written to a temporary file first, then renamed)."""
    path = Path(path)
    arrays = model.get_weights()
    arrays[CONFIG_KEY] = np.array(json.dumps(model_config(model)))
    with atomic_open(path, "wb") as fh:  # a temporary file, fsynced, then renamed
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    return path


def load_model(path: str | Path, build: Callable[[dict], Sequential]) -> Sequential:
    """Read a model written by `save_model`, rebuilt by `build(config)` (Sequential.load);
    DataError if it is missing, foreign or corrupt."""
    path = Path(path)
    hint = "expected an .npz written by Sequential.save / `scratchlab` runs"
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise DataError(f"model file {path} {what}; {hint}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        why = "not an .npz archive; pickled data is never loaded"
        if isinstance(exc, zipfile.BadZipFile | OSError):
            why = f"not a readable .npz archive: {exc}"
        raise DataError(f"{path} is not a scratchlab model file ({why}); {hint}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, not a model archive; {hint}")
    try:
        with archive:
            if CONFIG_KEY not in archive.files:
                raise DataError(f"{path} has no model config ({CONFIG_KEY}); {hint}")
            arrays = {key: archive[key] for key in archive.files}
        config = json.loads(str(arrays.pop(CONFIG_KEY)))
        model = build(config)
        model.set_weights(arrays)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc
    except ConfigError as exc:
        raise DataError(f"{path}: {exc}") from exc
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is corrupt ({type(exc).__name__}: {exc}); {hint}") from exc
    return model


def summary_table(model: Sequential, input_dim: int | None = None) -> str:
    """Keras-style summary; `input_dim` defaults to what the first Linear expects."""
    dim = model.input_dim if input_dim is None else int(input_dim)
    if dim is None:
        raise ConfigError("summary() needs input_dim for a model without parametric layers")
    widths = (29, 26, 12)
    rule, double = "_" * sum(widths), "=" * sum(widths)

    def row(*cells: str) -> str:
        return "".join(f" {c}".ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [f'Model: "sequential" (loss: {model.loss.name})', rule]
    lines += [row("Layer (type)", "Output Shape", "Param #"), double]
    seen: dict[str, int] = {}
    for layer in model.layers:
        dim = layer.output_dim(dim)
        base = layer.name.lower()
        label = base if base not in seen else f"{base}_{seen[base]}"
        seen[base] = seen.get(base, 0) + 1
        n = sum(a.size for store in (layer.params, layer.buffers) for a in store.values())
        lines.append(row(f"{label} ({layer.name})", f"(None, {dim})", f"{n:,}"))
    trainable, frozen = model.count_params()
    lines += [double, f"Total params: {trainable + frozen:,}", f"Trainable params: {trainable:,}"]
    lines += [f"Non-trainable params: {frozen:,}"]
    if model.regularisers:
        lines.append("Regularisers: " + ", ".join(repr(r) for r in model.regularisers))
    lines.append(rule)
    return "\n".join(lines)
