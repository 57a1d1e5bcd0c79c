"""Datasets and batches: the first step of the flow data -> models -> losses -> optimizers -> trainer -> metrics.

``mixtures`` samples the 2-D Gaussian rings and grids of the mode-collapse
literature; ``mnist`` finds, downloads and loads MNIST and Fashion-MNIST (read by
``idx``, fetched by ``download``); ``DataLoader`` serves any of them in shuffled
batches of minigan Tensors, resumable from a checkpoint.
"""

from .download import ChecksumError, DownloadError, download, fetch, md5_of
from .idx import IDXError, read_idx, read_idx_images, read_idx_labels, scale_images, write_idx
from .loader import DataLoader, seed_from_minigan
from .mixtures import grid, grid_modes, mixture, mixture_modes, ring, ring_modes, sample_mixture
from .mnist import (
    FASHION_MNIST_CLASSES, DataNotFoundError, download_dir, find_fashion_mnist_files, find_files,
    find_mnist_files, load_dataset, load_fashion_mnist, load_mnist, search_dirs,
)
