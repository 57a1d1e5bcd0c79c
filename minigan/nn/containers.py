"""Sequential: a model that is a chain of layers, each fed the previous one's output.

Its children are named '0', '1', ... (or by the keys of an OrderedDict), so its
state-dict keys are PyTorch's: '0.weight', '1.running_mean', ...
"""

from __future__ import annotations

from collections import OrderedDict

from .module import Module


class Sequential(Module):
    """y = layer_n(... layer_2(layer_1(x)))

        nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
        nn.Sequential(OrderedDict([("fc", nn.Linear(100, 784)), ("out", nn.Tanh())]))
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {index} is a {type(module).__name__}, not a Module "
                        "(pass layers such as nn.Linear(...), or one OrderedDict of them)"
                    )
                self.add_module(str(index), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _key(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"Sequential index {index} is out of range for {len(self)} layers")
        return list(self._modules)[index % len(self)]

    def __getitem__(self, index):
        if isinstance(index, slice):  # the layers keep their names, as in PyTorch
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        self.add_module(self._key(index), module)

    def append(self, module):
        """Add a layer at the end, named by its position."""
        self.add_module(str(len(self)), module)
        return self
