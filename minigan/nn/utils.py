"""minigan.nn.utils: where PyTorch keeps ``spectral_norm``, so ``nn.utils.spectral_norm(layer)`` ports as is."""

from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
