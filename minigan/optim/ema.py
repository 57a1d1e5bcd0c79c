"""An exponential moving average of a model's weights, for sampling from a smoother generator."""

from __future__ import annotations

import copy

from ..autograd import no_grad


class EMA:
    """shadow = decay * shadow + (1 - decay) * weights, after every optimizer step.

    ``EMA(generator, decay=0.999)`` keeps a copy of the generator (``ema.module``)
    whose parameters track the running average; buffers (BatchNorm's running
    statistics) are copied as they are. Sample from ``ema.module``.

    ``warmup=True`` uses decay_t = min(decay, (1 + t) / (10 + t)) at update t (as
    TensorFlow's ExponentialMovingAverage with num_updates): without it the random
    initial weights keep a share decay^t of the average, still 5% after 3,000
    updates at 0.999, enough to pull a 2-D generator's samples off its modes.
    """

    def __init__(self, module, decay=0.999, warmup=False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA: decay must lie in [0, 1), got {decay}")
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(module)
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad = False
        self.num_updates = 0

    @no_grad()
    def update(self, module):
        self.num_updates += 1
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates)) if self.warmup else self.decay
        for shadow, p in zip(self.module.parameters(), module.parameters()):
            shadow.data = d * shadow.data + (1 - d) * p.data
        for shadow, b in zip(self.module.buffers(), module.buffers()):
            shadow.data = b.get_namespace().asarray(b.data, copy=True)  # a copy, not a shared array

    def state_dict(self):
        return {"decay": self.decay, "num_updates": self.num_updates, "module": self.module.state_dict()}

    def load_state_dict(self, state):
        self.decay, self.num_updates = state["decay"], state["num_updates"]
        self.module.load_state_dict(state["module"])
