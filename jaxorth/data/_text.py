"""Text classification data read from the user's files: IMDB and two GLUE tasks.

Nothing is downloaded. The reader takes the folder a user unpacked the public archives
into and checks the files as it reads them: a missing split or folder, an empty review, a
TSV row or header without a needed column, or a label out of range raises an error that
names the file (and the line).

Formats
-------
IMDB (Maas et al. 2011, ``aclImdb_v1.tar.gz``)
    ``aclImdb/{train,test}/{pos,neg}/*.txt``: one UTF-8 review per file, label 1 for
    ``pos`` and 0 for ``neg`` (``train/unsup`` is not read). ``data_dir`` may be the folder
    holding ``aclImdb`` or ``aclImdb`` itself.
GLUE SST-2 and QQP (Wang et al. 2019, the GLUE data archives)
    ``SST-2/{train,dev}.tsv`` with the header ``sentence<TAB>label``;
    ``QQP/{train,dev}.tsv`` with the header
    ``id<TAB>qid1<TAB>qid2<TAB>question1<TAB>question2<TAB>is_duplicate``. Fields are
    separated by tabs and never quoted (the GLUE processors read them with
    ``quotechar=None``). Labels are 0 or 1. The test files carry no labels, so the
    held-out split is ``dev``. ``data_dir`` may be the folder holding ``SST-2`` / ``QQP``
    or the task folder itself.

Tokens and ids
--------------
:func:`tokenize` lower-cases, turns the HTML line breaks of the IMDB reviews
(``<br />``) into spaces and splits on every character that is not a letter or a digit.
:func:`build_vocabulary` keeps the ``max_words`` most frequent training words (10,000 as
in the Keras IMDB data that the HadamRNN authors use), ties broken alphabetically, after
three reserved ids: ``PAD_ID = 0``, ``UNK_ID = 1`` (a word outside the vocabulary) and
``SEP_ID = 2`` (between the two questions of a QQP pair: two separators, as the HadamRNN
authors' GLUE code, which joins ``q1 [SEP] [SEP] q2``). :func:`encode_texts` pads and
truncates to ``length`` tokens: ``"pre"`` pads at the front and keeps the last tokens
(Keras ``pad_sequences`` defaults, the authors' IMDB arrays), ``"post"`` pads at the end and
keeps the first tokens (the BERT tokenizer of the authors' GLUE runs).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxorth._checks import one_of, positive_int

__all__ = [
    "PAD_ID",
    "SEP_ID",
    "UNK_ID",
    "TextDataset",
    "TextSplit",
    "Vocabulary",
    "build_vocabulary",
    "encode_texts",
    "load_text",
    "read_glue",
    "read_imdb",
    "tokenize",
]

PAD_ID = 0
"""Token id of padding (its embedding row is held at zero by the text models)."""
UNK_ID = 1
"""Token id of a word outside the vocabulary."""
SEP_ID = 2
"""Token id of the separator between the two texts of a pair (QQP)."""
_SPECIAL = ("<pad>", "<unk>", "<sep>")

_TASKS = ("imdb", "sst2", "qqp")
#: task -> (folder name in data_dir, text columns, label column); IMDB has no TSV.
_GLUE = {
    "sst2": ("SST-2", ("sentence",), "label"),
    "qqp": ("QQP", ("question1", "question2"), "is_duplicate"),
}
#: The padding convention and sequence length of the HadamRNN authors' runs per task.
_PAPER_PADDING = {"imdb": "pre", "sst2": "post", "qqp": "post"}
_PAPER_LENGTH = {"imdb": 500, "sst2": 128, "qqp": 128}

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits (Unicode), no underscore


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text``.

    ``<br />`` becomes a space; words are the maximal runs of letters and digits
    (Unicode; ``_`` is a separator): ``"Don't<br />stop!"`` -> ``["don", "t", "stop"]``.

    Examples
    --------
    >>> from jaxorth.data import tokenize
    >>> tokenize("A <br />great film!")
    ['a', 'great', 'film']
    """
    return _WORD.findall(_BREAK.sub(" ", text).lower())


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Word ids: the reserved ids 0, 1, 2 (pad, unknown, separator), then ``words``.

    ``words[k]`` has id ``3 + k``; ``len(vocabulary)`` is the number of ids (the
    embedding's rows).

    Examples
    --------
    >>> from jaxorth.data import Vocabulary
    >>> vocabulary = Vocabulary(("film", "fine"))  # ids 3 and 4 after pad, unknown, separator
    >>> len(vocabulary), vocabulary.ids(["fine", "dull"]), vocabulary.token(0)
    (5, [4, 1], '<pad>')
    """

    words: tuple[str, ...]
    _index: dict[str, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {w: i + len(_SPECIAL) for i, w in enumerate(self.words)}
        if len(index) != len(self.words):
            raise ValueError("words must be distinct")
        clash = set(index) & set(_SPECIAL)
        if clash:
            raise ValueError(f"words must not be the reserved tokens {sorted(clash)}")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(_SPECIAL) + len(self.words)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        """The id of each token (``UNK_ID`` for a word outside the vocabulary)."""
        index = self._index
        return [index.get(t, UNK_ID) for t in tokens]

    def token(self, token_id: int) -> str:
        """The word (or reserved token ``<pad>``, ``<unk>``, ``<sep>``) of an id."""
        if not 0 <= token_id < len(self):
            raise ValueError(f"token_id must be in [0, {len(self)}), got {token_id}")
        if token_id < len(_SPECIAL):
            return _SPECIAL[token_id]
        return self.words[token_id - len(_SPECIAL)]


def build_vocabulary(token_lists: Iterable[Sequence[str]], max_words: int = 10000) -> Vocabulary:
    """The ``max_words`` most frequent tokens of ``token_lists`` (the training texts).

    Ordered by decreasing count, ties broken by the word itself (alphabetical), so the
    same texts always give the same ids.

    Examples
    --------
    >>> from jaxorth.data import build_vocabulary, encode_texts
    >>> vocab = build_vocabulary([["a", "b", "a"], ["c", "a"]], max_words=2)
    >>> encode_texts([[["a", "z"]]], vocab, length=4).shape  # "z": the unknown id
    (1, 4)
    """
    max_words = positive_int(max_words, "max_words")
    counts: collections.Counter[str] = collections.Counter()
    for tokens in token_lists:
        counts.update(tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return Vocabulary(tuple(w for w, _ in ranked[:max_words]))


def _example_ids(texts: Sequence[Sequence[str]], vocabulary: Vocabulary) -> list[int]:
    """Ids of one example's token lists, joined by two separators (a pair, as QQP)."""
    ids: list[int] = []
    for k, tokens in enumerate(texts):
        if k:
            ids += [SEP_ID, SEP_ID]
        ids += vocabulary.ids(tokens)
    return ids


def encode_texts(
    examples: Sequence[Sequence[Sequence[str]]],
    vocabulary: Vocabulary,
    length: int,
    padding: str = "pre",
) -> np.ndarray:
    """Token ids ``(N, length)`` (``int32``) of tokenized examples.

    Parameters
    ----------
    examples : sequence of examples
        ``examples[i]`` holds the token lists of example ``i``: one list (a review, a
        sentence) or two (a question pair, joined by two ``SEP_ID``).
    vocabulary : Vocabulary
        Maps each token to its id (``UNK_ID`` outside it).
    length : int
        Sequence length ``T``: shorter examples are padded with ``PAD_ID``, longer ones
        truncated.
    padding : {"pre", "post"}
        ``"pre"``: pad at the front, keep the last ``length`` ids (Keras
        ``pad_sequences`` defaults). ``"post"``: pad at the end, keep the first ones.

    Examples
    --------
    >>> from jaxorth.data import PAD_ID, build_vocabulary, encode_texts
    >>> vocab = build_vocabulary([["good", "film"], ["bad", "film"]])
    >>> ids = encode_texts([[["good", "film"]]], vocab, length=4)  # pre-padding
    >>> ids.shape, bool((ids[0, :2] == PAD_ID).all())
    ((1, 4), True)
    """
    length = positive_int(length, "length")
    padding = one_of(padding, "padding", ("pre", "post"))
    out = np.full((len(examples), length), PAD_ID, dtype=np.int32)
    for i, texts in enumerate(examples):
        ids = _example_ids(texts, vocabulary)
        if padding == "pre":
            ids = ids[-length:]
            out[i, length - len(ids) :] = ids
        else:
            ids = ids[:length]
            out[i, : len(ids)] = ids
    return out


class TextSplit(NamedTuple):
    r"""The raw examples of one split, read from ``path``.

    ``texts[i]`` holds the text field(s) of example ``i`` (one review or sentence; two
    questions for QQP), ``labels[i]`` its class (int32).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import read_glue
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = Path(root, "SST-2")
    ...     folder.mkdir()
    ...     for split in ("train", "dev"):
    ...         rows = "sentence\tlabel\na fine film\t1\ndull\t0\n"
    ...         _ = (folder / f"{split}.tsv").write_text(rows)
    ...     splits = read_glue(root, "sst2")
    >>> train = splits["train"]
    >>> train.texts, train.labels.tolist(), Path(train.path).name
    ((('a fine film',), ('dull',)), [1, 0], 'train.tsv')
    """

    texts: tuple[tuple[str, ...], ...]
    labels: np.ndarray
    path: str


def _root(data_dir: str | os.PathLike[str], inner: str) -> Path:
    """``data_dir / inner`` when that folder exists, else ``data_dir`` (checked to exist)."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir={str(root)!r} is not a directory")
    return root / inner if (root / inner).is_dir() else root


def _read_text_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err})") from None


def read_imdb(data_dir: str | os.PathLike[str]) -> dict[str, TextSplit]:
    """The ``train`` and ``test`` reviews of the IMDB archive (``aclImdb``) in ``data_dir``.

    Each split reads ``neg`` (label 0) then ``pos`` (label 1), files in name order.
    Raises ``FileNotFoundError`` for a missing folder or a folder without ``.txt`` files
    and ``ValueError`` for an empty (or blank) review or a file that is not UTF-8, each
    naming the path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import read_imdb
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for split in ("train", "test"):
    ...         for label, review in (("neg", "Dull.<br />Too long."), ("pos", "A fine film.")):
    ...             folder = Path(root, "aclImdb", split, label)
    ...             folder.mkdir(parents=True)
    ...             _ = (folder / "0_1.txt").write_text(review)
    ...     splits = read_imdb(root)
    >>> sorted(splits), splits["train"].texts, splits["train"].labels.tolist()  # neg, then pos
    (['test', 'train'], (('Dull.<br />Too long.',), ('A fine film.',)), [0, 1])
    """
    root = _root(data_dir, "aclImdb")
    splits = {}
    for split in ("train", "test"):
        texts: list[tuple[str, ...]] = []
        labels: list[int] = []
        for name, label in (("neg", 0), ("pos", 1)):
            folder = root / split / name
            if not folder.is_dir():
                raise FileNotFoundError(
                    f"{folder}: missing IMDB folder; data_dir must hold "
                    "aclImdb/{train,test}/{pos,neg}/*.txt (the unpacked aclImdb_v1.tar.gz)"
                )
            files = sorted(folder.glob("*.txt"))
            if not files:
                raise FileNotFoundError(f"{folder}: no .txt review in this IMDB folder")
            for path in files:
                text = _read_text_file(path)
                if not text.strip():
                    raise ValueError(f"{path}: empty review")
                texts.append((text,))
                labels.append(label)
        splits[split] = TextSplit(tuple(texts), np.asarray(labels, np.int32), str(root / split))
    return splits


def _read_glue_tsv(path: Path, task: str, skip_malformed: bool) -> TextSplit:
    """One GLUE TSV file of ``task`` (module docstring): text columns and 0/1 labels."""
    folder, columns, label_column = _GLUE[task]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing GLUE file; data_dir must hold {folder}/train.tsv and "
            f"{folder}/dev.tsv (the unpacked GLUE archive) or be the {folder} folder"
        )
    lines = _read_text_file(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if not lines:
        raise ValueError(f"{path}: empty file (expected a header line)")
    header = lines[0].split("\t")
    wanted = (*columns, label_column)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ValueError(
            f"{path}: the header has no column {', '.join(map(repr, missing))} (columns: "
            f"{header}); the GLUE {task} files have {', '.join(wanted)} among their columns"
        )
    where = [header.index(c) for c in wanted]
    texts: list[tuple[str, ...]] = []
    labels: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            if skip_malformed:
                continue
            raise ValueError(
                f"{path}, line {number}: {len(fields)} tab-separated fields, the header has "
                f"{len(header)} (set skip_malformed to skip such rows)"
            )
        *text, label = (fields[i] for i in where)
        if label not in ("0", "1"):
            raise ValueError(f"{path}, line {number}: label {label!r} must be 0 or 1")
        texts.append(tuple(text))
        labels.append(int(label))
    if not texts:
        raise ValueError(f"{path}: no example after the header")
    return TextSplit(tuple(texts), np.asarray(labels, np.int32), str(path))


def read_glue(
    data_dir: str | os.PathLike[str], task: str, *, skip_malformed: bool = False
) -> dict[str, TextSplit]:
    r"""The ``train`` and ``dev`` examples of a GLUE task (``"sst2"`` or ``"qqp"``).

    ``data_dir`` holds the task folder (``SST-2``, ``QQP``) or is that folder. A row with
    another number of fields than the header raises ``ValueError`` naming the file and
    line, unless ``skip_malformed`` (the ``transformers`` GLUE processor skips QQP rows
    that miss a field); a missing file, a header without a needed column, a label other
    than 0 / 1, a file without examples raise naming the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import read_glue
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = Path(root, "SST-2")
    ...     folder.mkdir()
    ...     for split in ("train", "dev"):
    ...         rows = "sentence\tlabel\na fine film\t1\ndull\t0\n"
    ...         _ = (folder / f"{split}.tsv").write_text(rows)
    ...     splits = read_glue(root, "sst2")
    >>> sorted(splits), splits["dev"].texts[0], splits["dev"].labels.tolist()
    (['dev', 'train'], ('a fine film',), [1, 0])
    """
    task = one_of(task, "task", tuple(_GLUE))
    root = _root(data_dir, _GLUE[task][0])
    return {s: _read_glue_tsv(root / f"{s}.tsv", task, skip_malformed) for s in ("train", "dev")}


class TextDataset(NamedTuple):
    r"""Encoded text classification data: token ids ``(N, T)`` int32 and labels (int32).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import load_text
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = Path(root, "SST-2")
    ...     folder.mkdir()
    ...     for split in ("train", "dev"):
    ...         rows = "sentence\tlabel\na fine film\t1\ndull\t0\n"
    ...         _ = (folder / f"{split}.tsv").write_text(rows)
    ...     data = load_text("sst2", root, length=4)
    >>> data.task, data.test_split, data.x_train.shape, data.y_train.tolist()
    ('sst2', 'dev', (2, 4), [1, 0])
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    vocabulary: Vocabulary
    task: str
    test_split: str  # "test" (IMDB) or "dev" (GLUE: the test labels are not public)


def load_text(
    task: str,
    data_dir: str | os.PathLike[str],
    *,
    length: int | None = None,
    max_words: int = 10000,
    padding: str = "auto",
    skip_malformed: bool = False,
) -> TextDataset:
    r"""Read, tokenize and encode a text classification task from the user's files.

    Parameters
    ----------
    task : {"imdb", "sst2", "qqp"}
        Which files (module docstring).
    data_dir : path
        The folder of the unpacked archive (:func:`read_imdb`, :func:`read_glue`).
    length : int, optional
        Sequence length ``T``; ``None``: the HadamRNN paper's (500 for IMDB, 128 for
        SST-2 and QQP).
    max_words : int
        Vocabulary size without the three reserved ids, built on the training split.
    padding : {"auto", "pre", "post"}
        :func:`encode_texts`; ``"auto"``: ``"pre"`` for IMDB (Keras), ``"post"`` for GLUE
        (the BERT tokenizer), as the HadamRNN authors' runs.
    skip_malformed : bool
        GLUE only: skip TSV rows whose field count differs from the header's.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from jaxorth.data import load_text
    >>> with tempfile.TemporaryDirectory() as root:
    ...     folder = Path(root, "SST-2")
    ...     folder.mkdir()
    ...     for split in ("train", "dev"):
    ...         rows = "sentence\tlabel\na fine film\t1\ndull\t0\n"
    ...         _ = (folder / f"{split}.tsv").write_text(rows)
    ...     data = load_text("sst2", root, length=4)
    >>> words = data.vocabulary.words  # by frequency, ties alphabetical; ids from 3
    >>> words, data.x_train.tolist()  # GLUE pads after the text ("post")
    (('a', 'dull', 'film', 'fine'), [[3, 6, 5, 0], [4, 0, 0, 0]])
    """
    task = one_of(task, "task", _TASKS)
    padding = one_of(padding, "padding", ("auto", "pre", "post"))
    length = _PAPER_LENGTH[task] if length is None else positive_int(length, "length")
    if padding == "auto":
        padding = _PAPER_PADDING[task]
    if task == "imdb":
        splits, held_out = read_imdb(data_dir), "test"
    else:
        splits, held_out = read_glue(data_dir, task, skip_malformed=skip_malformed), "dev"
    train = [[tokenize(t) for t in ex] for ex in splits["train"].texts]
    test = [[tokenize(t) for t in ex] for ex in splits[held_out].texts]
    vocabulary = build_vocabulary((tokens for ex in train for tokens in ex), max_words)
    return TextDataset(
        encode_texts(train, vocabulary, length, padding),
        splits["train"].labels,
        encode_texts(test, vocabulary, length, padding),
        splits[held_out].labels,
        vocabulary,
        task,
        held_out,
    )
