"""Learning-rate schedules: `schedule.lr(step, epoch) -> eta` for one update.

`step` is the global update count from 0 (the optimiser's `t` before the update) and `epoch`
the training epoch from 0 (the first pass over the data is epoch 0). Schedules are stateless
functions of (step, epoch), so resuming a run only needs the step count and the epoch.

    constant     eta
    exp_decay    eta * gamma**epoch
    step_decay   eta / factor**(epoch // every)
    cyclical     triangular between eta_min and eta_max with half-period step_size = n_s
                 (Smith 2015, DD2424 Assignment 2), by update step
    cosine       eta_min + (eta - eta_min) * (1 + cos(pi * min(step, T) / T)) / 2, T = total_steps
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

from scratchlab.errors import ConfigError


class Schedule(Protocol):
    name: str

    def lr(self, step: int, epoch: int) -> float: ...

    def config(self) -> dict[str, Any]: ...


def _positive(what: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{what} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class _Base:
    name: ClassVar[str] = ""

    def config(self) -> dict[str, Any]:
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class Constant(_Base):
    """eta_t = eta."""

    eta: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        _positive("eta", self.eta)

    def lr(self, step: int, epoch: int) -> float:
        return self.eta


@dataclass(frozen=True)
class ExpDecay(_Base):
    """eta_t = eta * gamma**epoch, 0 < gamma <= 1."""

    eta: float
    gamma: float
    name: ClassVar[str] = "exp_decay"

    def __post_init__(self) -> None:
        _positive("eta", self.eta)
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"exp_decay gamma must be in (0, 1], got {self.gamma!r}")

    def lr(self, step: int, epoch: int) -> float:
        return self.eta * self.gamma**epoch


@dataclass(frozen=True)
class StepDecay(_Base):
    """eta_t = eta / factor**(epoch // every): divide by `factor` every `every` epochs."""

    eta: float
    every: int
    factor: float
    name: ClassVar[str] = "step_decay"

    def __post_init__(self) -> None:
        _positive("eta", self.eta)
        if int(self.every) != self.every or self.every < 1:
            raise ConfigError(f"step_decay every must be a whole number >= 1, got {self.every!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1.0):
            raise ConfigError(f"step_decay factor must be >= 1, got {self.factor!r}")

    def lr(self, step: int, epoch: int) -> float:
        return self.eta / self.factor ** (epoch // int(self.every))


@dataclass(frozen=True)
class Cyclical(_Base):
    """Triangular cyclical learning rate by update step t, half-period n_s = step_size.

    t in [2l n_s, (2l+1) n_s]:     eta_t = eta_min + (t - 2l n_s) / n_s * (eta_max - eta_min)
    t in [(2l+1) n_s, 2(l+1) n_s]: eta_t = eta_max - (t - (2l+1) n_s) / n_s * (eta_max - eta_min)

    So eta_0 = eta_min, eta_{n_s} = eta_max, eta_{2 n_s} = eta_min, ... One cycle = 2 n_s updates.
    """

    eta_min: float
    eta_max: float
    step_size: int
    name: ClassVar[str] = "cyclical"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.eta_min) and self.eta_min >= 0.0):
            raise ConfigError(f"cyclical eta_min must be >= 0, got {self.eta_min!r}")
        _positive("cyclical eta_max", self.eta_max)
        if self.eta_min > self.eta_max:
            raise ConfigError(
                f"cyclical eta_min ({self.eta_min}) must not exceed eta_max ({self.eta_max})"
            )
        if int(self.step_size) != self.step_size or self.step_size < 1:
            raise ConfigError(
                f"cyclical step_size (n_s) must be a whole number >= 1, got {self.step_size!r}"
            )

    def lr(self, step: int, epoch: int) -> float:
        n_s = int(self.step_size)
        x = step % (2 * n_s)  # position in the current cycle
        frac = x / n_s if x <= n_s else (2 * n_s - x) / n_s
        return self.eta_min + frac * (self.eta_max - self.eta_min)


@dataclass(frozen=True)
class Cosine(_Base):
    """Cosine annealing by step: eta_t = eta_min + (eta - eta_min)(1 + cos(pi t'/T)) / 2,
    t' = min(t, T), T = total_steps; eta_0 = eta, eta_T = eta_min (and after)."""

    eta: float
    total_steps: int
    eta_min: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        _positive("eta", self.eta)
        if int(self.total_steps) != self.total_steps or self.total_steps < 1:
            raise ConfigError(
                f"cosine total_steps must be a whole number >= 1, got {self.total_steps!r}"
            )
        if not (math.isfinite(self.eta_min) and 0.0 <= self.eta_min <= self.eta):
            raise ConfigError(
                f"cosine eta_min must be in [0, eta={self.eta}], got {self.eta_min!r}"
            )

    def lr(self, step: int, epoch: int) -> float:
        frac = min(step, self.total_steps) / self.total_steps
        return self.eta_min + 0.5 * (self.eta - self.eta_min) * (1.0 + math.cos(math.pi * frac))


SCHEDULES = ("constant", "exp_decay", "step_decay", "cyclical", "cosine")
_NEEDS = {
    "constant": "nothing",
    "exp_decay": "gamma",
    "step_decay": "every, factor",
    "cyclical": "eta_min, step_size (eta_max defaults to eta)",
    "cosine": "total_steps (eta_min optional)",
}


def get_schedule(name: str, eta: float, **kw: Any) -> Schedule:
    """Build a schedule by name; `eta` is the base rate (for `cyclical`, the default eta_max).

    constant(); exp_decay(gamma); step_decay(every, factor); cyclical(eta_min, step_size,
    eta_max=eta); cosine(total_steps, eta_min=0).
    """
    key = str(name).lower()
    try:
        eta = float(eta)
        kw = {
            k: (float(v) if k.startswith("eta") or k in ("gamma", "factor") else v)
            for k, v in kw.items()
        }
    except (TypeError, ValueError):
        raise ConfigError(f"schedule {name!r}: eta and its parameters must be numbers") from None
    if key == "cyclical":
        kw.setdefault("eta_max", eta)
        cls: type = Cyclical
    else:
        cls = {
            "constant": Constant,
            "exp_decay": ExpDecay,
            "step_decay": StepDecay,
            "cosine": Cosine,
        }.get(key)
        if cls is None:
            raise ConfigError(f"unknown schedule {name!r}; use one of {', '.join(SCHEDULES)}")
        kw["eta"] = eta
    try:
        return cls(**kw)
    except TypeError:
        needs = _NEEDS[key]
        given = sorted(k for k in kw if k != "eta")
        raise ConfigError(f"schedule {name!r} takes {needs}; got {given}") from None
