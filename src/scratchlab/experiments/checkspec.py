"""The experiment file's checks: gradient checks (`gradcheck`) and the tiny-subset overfit
(`overfit`), validated by pydantic (`extra="forbid"`).

    gradcheck = true                                  one check with the defaults
    gradcheck = { n_samples = 20, lambda = 0.1 }      one check
    [[gradcheck]]                                     a list of checks, one table each
    lambda = 0
    n_samples = 1
    [[gradcheck]]
    name = "strict"                                   optional; default: from its settings
    lambda = 0.1
    n_samples = 20
    tol = 1e-6                                        relative threshold
    atol = 0                                          absolute threshold (0 = strict)

    overfit = { n_images = 100, max_epochs = 200 }    or true / false; absent: on when any
                                                      gradient check is asked

Each gradient check builds the first run's model with its own `hidden`, `loss`,
`batch_norm` (each: the first run's when not given) and `lambda`, and compares analytic
and centred-difference gradients on the first `n_samples` training images and `n_dims`
input features (`scratchlab.gradcheck`). An entry fails when rel err >= `tol` and abs err
> `atol`; `atol` not given is the centred difference's round-off floor 10 ε |J| / h.
The defaults of h, n_samples, n_dims, tol and atol are the library's own
(`scratchlab.gradcheck.gradcheck`'s signature): one source of truth.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from scratchlab.gradcheck import gradcheck as _gradcheck

_LIBRARY = inspect.signature(_gradcheck).parameters
DEFAULTS = {k: _LIBRARY[k].default for k in ("h", "n_samples", "n_dims", "tol", "atol")}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class GradcheckSpec(_Strict):
    """One gradient check. Numbers must be finite (TOML allows inf and nan): a check run
    with them could not fail, or could not mean anything."""

    name: str | None = Field(None, min_length=1, max_length=80)
    n_samples: int = Field(DEFAULTS["n_samples"], ge=1)
    n_dims: int = Field(DEFAULTS["n_dims"], ge=1)
    h: float = Field(DEFAULTS["h"], gt=0.0, allow_inf_nan=False)
    hidden: list[Annotated[int, Field(ge=1)]] | None = None
    batch_norm: bool | None = None
    lambda_: float = Field(0.1, ge=0.0, allow_inf_nan=False, alias="lambda")
    loss: Literal["cross_entropy", "svm"] | None = None
    tol: float = Field(DEFAULTS["tol"], gt=0.0, allow_inf_nan=False)
    atol: float | None = Field(DEFAULTS["atol"], ge=0.0, allow_inf_nan=False)

    @property
    def label(self) -> str:
        """`name`, else its settings that were given: `λ 0.1, 20 samples, svm, atol 0`."""
        if self.name:
            return self.name
        given = self.model_fields_set
        parts = [f"λ {self.lambda_:g}", f"{self.n_samples} sample{'s' * (self.n_samples > 1)}"]
        if "loss" in given and self.loss:
            parts.append({"cross_entropy": "CE", "svm": "SVM"}[self.loss])
        if "hidden" in given and self.hidden is not None:
            parts.append("hidden " + "-".join(map(str, self.hidden)) if self.hidden else "linear")
        if "batch_norm" in given and self.batch_norm is not None:
            parts.append("batch norm" if self.batch_norm else "no batch norm")
        extras = {
            "n_dims": f"{self.n_dims} dims",
            "h": f"h {self.h:g}",
            "tol": f"tol {self.tol:g}",
            "atol": f"atol {self.atol:g}" if self.atol is not None else "",
        }
        parts += [
            text
            for key, text in extras.items()
            if key in given and text and getattr(self, key) != DEFAULTS[key]
        ]
        return ", ".join(parts)


class OverfitSpec(_Strict):
    """The tiny-subset overfit: the first run's model, λ = 0, no dropout or augmentation,
    trained on the first `n_images` training images until 100 % training accuracy or
    `max_epochs` epochs."""

    n_images: int = Field(100, ge=1, le=10_000)
    max_epochs: int = Field(200, ge=1, le=100_000)


_LIST = TypeAdapter(list[GradcheckSpec])


def gradcheck_list(value: object, handler: object) -> list[GradcheckSpec]:
    """`gradcheck = true | false | {table} | [{table}, ...]` as a list of checks (a wrap
    validator: errors keep the file's path, e.g. `gradcheck.1.tol`); labels must differ."""
    if isinstance(value, list) and all(isinstance(v, GradcheckSpec) for v in value):
        checks = list(value)
    elif isinstance(value, bool):
        checks = [GradcheckSpec()] if value else []
    elif isinstance(value, dict | GradcheckSpec):
        checks = [GradcheckSpec.model_validate(value)]
    elif isinstance(value, list):
        checks = _LIST.validate_python(value)
    else:
        raise ValueError("must be true, false, a table or a list of tables ([[gradcheck]])")
    labels = [c.label for c in checks]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(
            f"two gradient checks are both named {twice[0]!r}: give them different "
            "settings or different `name`s"
        )
    return checks


def resolve_overfit(value: OverfitSpec | bool | None, n_gradchecks: int) -> OverfitSpec | None:
    """The overfit asked for: a table, `true` (defaults), `false` (none), absent: with the
    gradient checks (the course's sanity checks go together)."""
    if value is None:
        value = n_gradchecks > 0
    if value is True:
        return OverfitSpec()
    return value or None
