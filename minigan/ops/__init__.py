"""The differentiable ops, one short Function class each, grouped by kind.

Each file pairs ``forward`` (raw arrays, array API standard) with ``backward``
(Tensor ops, so gradients are differentiable again) and exports a lowercase
function that users call.
"""

from .elementwise import (  # noqa: F401
    abs, add, clamp, div, exp, log, maximum, minimum, mul, neg, pow, sign, sqrt, sub, where,
)
from .linalg import matmul  # noqa: F401
from .reductions import amax, amin, max, mean, min, std, sum, var  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, cat, concatenate, expand, flatten, getitem, index_select, permute, reshape,
    squeeze, stack, sum_to, transpose, unsqueeze,
)
