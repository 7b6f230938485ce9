"""Compare analytic gradients with centred differences (the DD2424 / cs231n check).

For every parameter tensor theta of the model and a set of its entries i:

    g_n[i] = (J(theta + h e_i) - J(theta - h e_i)) / (2 h)          (numerical)
    g_a[i] = dJ/dtheta_i from `model.train_step_grads`              (analytic)
    rel[i] = |g_a - g_n| / max(eps, |g_a| + |g_n|)

where J = loss + regularisation penalty (the cost), evaluated in float64 on the first
`n_samples` samples and the first `n_dims` input features, in training mode (batch-norm
batch statistics) with every dropout mask frozen.

An entry fails when rel >= tol (1e-6, the course's criterion) and |g_a - g_n| > atol,
the round-off floor of the difference quotient (10 eps |J| / h): an exactly-zero
gradient has a numerical estimate of pure round-off and rel = 1, which says nothing
about the code. An entry that disagrees is re-estimated once with the 5-point stencil
(truncation error O(h^4)) before it is called a failure.

Entries whose +-h perturbation crosses a kink (a ReLU input or an SVM margin changes
sign, or an L1-penalised weight passes 0) have no derivative to compare with; they are
counted in the `kinks` column and left out of the error maxima.

Nonsense cannot pass: settings that are not finite and positive (h, tol, atol >= 0, eps,
lambda of every regulariser, the sizes) are a ConfigError before anything runs; an entry
whose analytic or numerical gradient or error is NaN or infinite -- or every entry, when
the cost itself is not finite -- fails (`n_nonfinite`, counted in `n_fail`); a tensor
with no entry compared (all at kinks) fails; a model without parameters fails.
"""

from scratchlab.gradcheck.check import (
    GradRow,
    check_settings,
    gradcheck,
    max_rel_error,
    passed,
    slice_inputs,
)
from scratchlab.gradcheck.table import format_table, to_markdown, verdict

__all__ = [
    "GradRow",
    "check_settings",
    "format_table",
    "gradcheck",
    "max_rel_error",
    "passed",
    "slice_inputs",
    "to_markdown",
    "verdict",
]
