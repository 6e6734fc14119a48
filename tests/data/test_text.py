"""Text loaders on fixture files written here in each public format (IMDB, GLUE TSV).

The expected ids are worked out by hand from the fixture texts: counts, alphabetical
ties, the three reserved ids, pre / post padding and truncation, the QQP separators.
"""

import numpy as np
import pytest

from jaxorth.data import (
    PAD_ID,
    SEP_ID,
    UNK_ID,
    Vocabulary,
    build_vocabulary,
    encode_texts,
    load_text,
    read_glue,
    read_imdb,
    tokenize,
)

IMDB_TRAIN = {
    "neg": ["Bad, bad film.", "A dull film"],
    "pos": ["Good film<br /><br />good!", "A good watch"],
}
IMDB_TEST = {"neg": ["Good film, dull watch... BAD"], "pos": ["good"]}


SST2_HEADER = ("sentence", "label")
QQP_HEADER = ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")


def write_glue(root, write_tsv):
    write_tsv(
        root / "SST-2" / "train.tsv",
        SST2_HEADER,
        [("it 's a charming film ", "1"), ("a dull , dull film ", "0"), ('"quotes" stay', "1")],
    )
    write_tsv(root / "SST-2" / "dev.tsv", SST2_HEADER, [("charming , not dull ", "1")])
    write_tsv(
        root / "QQP" / "train.tsv",
        QQP_HEADER,
        [
            ("0", "1", "2", "How do I cook rice?", "How is rice cooked?", "1"),
            ("1", "3", "4", "Why is the sky blue?", "How do I cook pasta?", "0"),
        ],
    )
    write_tsv(
        root / "QQP" / "dev.tsv",
        QQP_HEADER,
        [("7", "9", "10", "how do i cook", "why blue", "0")],
    )
    return root


def test_tokenize_lowercases_strips_line_breaks_and_splits_on_non_alphanumerics():
    assert tokenize("This movie was GREAT!<br /><br />Loved it; 10/10.") == [
        "this", "movie", "was", "great", "loved", "it", "10", "10",
    ]  # fmt: skip
    assert tokenize("Don't<BR/>stop_now: café") == ["don", "t", "stop", "now", "café"]
    assert tokenize("  ...  ") == []


def test_vocabulary_order_counts_then_alphabetical():
    # counts: film 3, good 3, a 2, bad 2, dull 1, watch 1 -> ids 3.. in that order
    tokens = [tokenize(t) for texts in IMDB_TRAIN.values() for t in texts]
    vocab = build_vocabulary(tokens)
    assert vocab.words == ("film", "good", "a", "bad", "dull", "watch")
    assert len(vocab) == 3 + 6
    assert vocab.ids(["good", "zzz", "film"]) == [4, UNK_ID, 3]
    assert [vocab.token(i) for i in range(4)] == ["<pad>", "<unk>", "<sep>", "film"]
    assert build_vocabulary(tokens, max_words=4).words == ("film", "good", "a", "bad")
    assert (PAD_ID, UNK_ID, SEP_ID) == (0, 1, 2)
    with pytest.raises(ValueError, match="reserved tokens"):
        Vocabulary(("<pad>",))


def test_encode_pads_and_truncates_pre_and_post():
    vocab = Vocabulary(("film", "good", "a", "bad"))  # ids 3, 4, 5, 6
    example = [tokenize("Good film, dull watch... BAD")]  # 4 3 unk unk 6
    pre = encode_texts([example, [["a"]]], vocab, 4, padding="pre")
    post = encode_texts([example, [["a"]]], vocab, 4, padding="post")
    np.testing.assert_array_equal(pre, [[3, 1, 1, 6], [0, 0, 0, 5]])
    np.testing.assert_array_equal(post, [[4, 3, 1, 1], [5, 0, 0, 0]])
    assert pre.dtype == np.int32
    pair = encode_texts([[["good"], ["bad", "a"]]], vocab, 7, padding="post")
    np.testing.assert_array_equal(pair, [[4, SEP_ID, SEP_ID, 6, 5, 0, 0]])
    with pytest.raises(ValueError, match="padding"):
        encode_texts([example], vocab, 4, padding="middle")


@pytest.mark.parametrize("inner", [False, True], ids=["parent", "aclImdb"])
def test_imdb_reads_the_acl_folders(tmp_path, inner, write_imdb):
    write_imdb(tmp_path, IMDB_TRAIN, IMDB_TEST)
    splits = read_imdb(tmp_path / "aclImdb" if inner else tmp_path)
    texts = [*IMDB_TRAIN["neg"], *IMDB_TRAIN["pos"]]  # neg then pos, in file-name order
    assert splits["train"].texts == tuple((t,) for t in texts)
    np.testing.assert_array_equal(splits["train"].labels, [0, 0, 1, 1])
    ds = load_text("imdb", tmp_path, length=4, max_words=4)
    assert ds.test_split == "test" and ds.vocabulary.words == ("film", "good", "a", "bad")
    # pre-padding, the last 4 tokens kept (Keras)
    np.testing.assert_array_equal(ds.x_test, [[3, 1, 1, 6], [0, 0, 0, 4]])
    np.testing.assert_array_equal(ds.x_train[0], [0, 6, 6, 3])  # bad bad film
    np.testing.assert_array_equal(ds.y_test, [0, 1])
    assert load_text("imdb", tmp_path).x_train.shape == (4, 500)  # the paper's T


def test_imdb_errors_name_the_file(tmp_path, write_imdb):
    write_imdb(tmp_path, IMDB_TRAIN, IMDB_TEST)
    missing = tmp_path / "aclImdb" / "test" / "pos"
    for f in missing.iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match=r"test/pos: no \.txt review"):
        read_imdb(tmp_path)
    missing.rmdir()
    with pytest.raises(FileNotFoundError, match=r"aclImdb/test/pos: missing IMDB folder"):
        read_imdb(tmp_path)
    other = write_imdb(tmp_path / "b", IMDB_TRAIN, {"neg": ["ok"], "pos": ["fine", " \n\t"]})
    with pytest.raises(ValueError, match=r"aclImdb/test/pos/1_8\.txt: empty review"):
        read_imdb(other)
    (other / "aclImdb" / "test" / "pos" / "1_8.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(ValueError, match=r"1_8\.txt: not UTF-8"):
        read_imdb(other)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        read_imdb(tmp_path / "nowhere")


def test_glue_sst2_and_qqp(tmp_path, write_tsv):
    write_glue(tmp_path, write_tsv)
    sst2 = read_glue(tmp_path, "sst2")
    assert sst2["train"].texts[2] == ('"quotes" stay',)  # no quote handling (GLUE)
    np.testing.assert_array_equal(sst2["train"].labels, [1, 0, 1])
    ds = load_text("sst2", tmp_path / "SST-2")
    assert ds.test_split == "dev" and ds.x_train.shape == (3, 128)  # the paper's T
    # counts: dull 2, film 2, a 2 -> a, dull, film; then charming, it, quotes, s, stay
    assert ds.vocabulary.words == ("a", "dull", "film", "charming", "it", "quotes", "s", "stay")
    # post padding (BERT tokenizer): "charming , not dull" -> charming unk dull, then pads
    np.testing.assert_array_equal(ds.x_test[0, :4], [6, UNK_ID, 4, PAD_ID])
    assert not ds.x_test[0, 3:].any()

    qqp = load_text("qqp", tmp_path, length=9, max_words=3)
    # counts: how 3, cook 2, do 2, i 2, is 2, rice 2, ... -> how, cook, do
    assert qqp.vocabulary.words == ("how", "cook", "do")
    # "how do i cook" [SEP] [SEP] "why blue": how do unk cook 2 2 unk unk, pad
    np.testing.assert_array_equal(qqp.x_test, [[3, 5, 1, 4, 2, 2, 1, 1, 0]])
    np.testing.assert_array_equal(qqp.y_train, [1, 0])


def test_glue_errors_name_the_file_and_line(tmp_path, write_tsv):
    write_tsv(tmp_path / "SST-2" / "train.tsv", ("sentence", "labl"), [("a film", "1")])
    with pytest.raises(ValueError, match=r"SST-2/train\.tsv: the header has no column 'label'"):
        read_glue(tmp_path, "sst2")
    write_tsv(tmp_path / "SST-2" / "train.tsv", SST2_HEADER, [("a film", "1"), ("no label",)])
    write_tsv(tmp_path / "SST-2" / "dev.tsv", SST2_HEADER, [("a film", "1")])
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: 1 tab-separated fields"):
        read_glue(tmp_path, "sst2")
    kept = read_glue(tmp_path, "sst2", skip_malformed=True)["train"]
    assert kept.texts == (("a film",),)
    write_tsv(tmp_path / "SST-2" / "train.tsv", SST2_HEADER, [("a film", "1"), ("b", "2")])
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: label '2' must be 0 or 1"):
        read_glue(tmp_path, "sst2")
    (tmp_path / "SST-2" / "dev.tsv").unlink()
    write_tsv(tmp_path / "SST-2" / "train.tsv", SST2_HEADER, [("a film", "1")])
    with pytest.raises(FileNotFoundError, match=r"SST-2/dev\.tsv: missing GLUE file"):
        read_glue(tmp_path, "sst2")
    write_tsv(tmp_path / "QQP" / "train.tsv", QQP_HEADER[:4] + QQP_HEADER[5:], [])
    with pytest.raises(ValueError, match=r"QQP/train\.tsv: the header has no column 'question2'"):
        read_glue(tmp_path, "qqp")
    write_tsv(tmp_path / "QQP" / "train.tsv", QQP_HEADER, [])
    with pytest.raises(ValueError, match=r"QQP/train\.tsv: no example after the header"):
        read_glue(tmp_path, "qqp")
