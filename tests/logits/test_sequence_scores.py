"""sequence_scores: per-sequence log-likelihood, mean log-likelihood, perplexity, token
accuracy, token count and bits per byte of (..., S, V) logits; perplexity(per="sequence") and
per="token".

Expected values come from independent computations only: PyTorch in float64 on the CPU
(log_softmax and gather) for the log-likelihoods, the counted positions built in NumPy from
lengths, ignore_index and where, NumPy's argmax (the first maximal index) for the accuracy,
-loglik / (ln 2 x bytes) for bits per byte and torch's cross_entropy for the pooled perplexity.
fastinfo's results are compared with each other only where the contract promises equality:
one thread against two, padded positions holding garbage against clean padding, torch
tensors against NumPy arrays, and perplexity(per="sequence") against sequence_scores.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastinfo

FIELDS = ("loglik", "mean_loglik", "perplexity", "accuracy", "tokens", "bits_per_byte")
FLOAT_FIELDS = ("loglik", "mean_loglik", "perplexity", "accuracy")
RTOL, ATOL = 1e-12, 1e-12
RTOL_LOW = 1e-6

SETTINGS = settings(max_examples=40, deadline=None)


# --------------------------------------------------------------------------- data and oracles
def bf16():
    """NumPy's bfloat16 (ml_dtypes), or the test is skipped."""
    return np.dtype(pytest.importorskip("ml_dtypes").bfloat16)


def as_dtype(name):
    return bf16() if name == "bfloat16" else np.dtype(name)


def make_logits(shape, seed=0, scale=3.0):
    return np.random.default_rng(seed).normal(size=shape) * scale


def make_labels(shape, V, seed=1):
    return np.random.default_rng(seed).integers(0, V, size=shape)


def counted_mask(labels, lengths=None, ignore_index=None, where=None):
    """The counted positions of labels (..., S), built from the three rules in NumPy."""
    labels = np.asarray(labels)
    m = np.ones(labels.shape, dtype=bool)
    if lengths is not None:
        S = labels.shape[-1]
        m &= np.arange(S) < np.asarray(lengths)[..., None]
    if ignore_index is not None:
        m &= labels != ignore_index
    if where is not None:
        m &= np.broadcast_to(np.asarray(where, dtype=bool), labels.shape)
    return m


def oracle(torch, x, labels, mask, temperature=1.0, axis=-1):
    """The per-sequence scores from PyTorch float64 (class axis `axis` of x); positions off the
    mask never reach the sums (their labels are replaced by 0 and their terms by 0)."""
    xd = np.moveaxis(np.asarray(x).astype(np.float64), axis, -1)
    mask = np.asarray(mask, dtype=bool)
    safe = np.where(mask, labels, 0).astype(np.int64)
    z = torch.from_numpy(np.ascontiguousarray(xd)) / temperature
    lp = torch.log_softmax(z, -1)
    lpy = torch.gather(lp, -1, torch.from_numpy(safe[..., None].copy()))[..., 0]
    m = torch.from_numpy(mask.copy())
    loglik = torch.where(m, lpy, torch.zeros_like(lpy)).sum(-1).numpy()
    tokens = mask.sum(-1).astype(np.int64)
    hit = (np.argmax(xd, axis=-1) == safe) & mask
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(tokens > 0, loglik / np.maximum(tokens, 1), np.nan)
        acc = np.where(tokens > 0, hit.sum(-1) / np.maximum(tokens, 1), np.nan)
    return {"loglik": loglik, "mean_loglik": mean, "perplexity": np.exp(-mean), "accuracy": acc,
            "tokens": tokens}


def assert_matches(got, want, rtol=RTOL, atol=ATOL):
    for f in FLOAT_FIELDS:
        g = getattr(got, f)
        assert np.shape(g) == np.shape(want[f]), f
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), want[f], rtol=rtol, atol=atol,
                                   err_msg=f)
    np.testing.assert_array_equal(got.tokens, want["tokens"])


def assert_same_bits(a, b):
    """Every field of two SequenceScores holds the same bits (NaN payloads included)."""
    for f in FIELDS:
        u, v = getattr(a, f), getattr(b, f)
        if u is None or v is None:
            assert u is None and v is None, f
            continue
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype and u.shape == v.shape, f
        assert u.tobytes() == v.tobytes(), f


def numpy_of(t):
    return t.detach().cpu().numpy()


# =========================================================================== the result
def test_result_is_a_named_tuple_of_the_fields_in_order():
    """SequenceScores has the six fields in the documented order; the call returns one, with
    bits_per_byte None when no byte counts are given."""
    assert tuple(fastinfo.SequenceScores._fields) == FIELDS
    r = fastinfo.sequence_scores(make_logits((2, 3, 4)), make_labels((2, 3), 4))
    assert isinstance(r, fastinfo.SequenceScores) and isinstance(r, tuple) and len(r) == 6
    assert r.bits_per_byte is None


@pytest.mark.parametrize("shape", [(5, 7, 11), (2, 3, 6, 9), (8, 5)], ids=["BSV", "ABSV", "SV"])
def test_shapes_and_dtypes(shape):
    """Every field has the batch shape (0-d for 2-D logits), float64 for the scores and
    bits_per_byte, int64 for tokens."""
    x = make_logits(shape, seed=2)
    labels = make_labels(shape[:-1], shape[-1], seed=3)
    batch = shape[:-2]
    r = fastinfo.sequence_scores(x, labels, byte_counts=np.full(batch, 17))
    for f in FIELDS:
        v = getattr(r, f)
        assert np.shape(v) == batch, f
        assert isinstance(v, (np.ndarray, np.generic)), (f, type(v))
        want = np.int64 if f == "tokens" else np.float64
        assert np.asarray(v).dtype == want, (f, np.asarray(v).dtype)
    np.testing.assert_array_equal(r.tokens, np.full(batch, shape[-2]))


# =========================================================================== against torch
@pytest.mark.parametrize("shape", [(5, 7, 11), (2, 3, 6, 9), (8, 5)], ids=["BSV", "ABSV", "SV"])
def test_every_field_vs_torch_with_lengths(torch, shape):
    """loglik, mean_loglik, perplexity, accuracy and tokens against PyTorch float64 with
    per-sequence lengths (among them 0 and the full length)."""
    x = make_logits(shape, seed=4)
    S, V = shape[-2], shape[-1]
    labels = make_labels(shape[:-1], V, seed=5)
    batch = shape[:-2]
    lengths = np.random.default_rng(6).integers(0, S + 1, size=batch)
    if lengths.ndim:
        flat = lengths.reshape(-1)
        flat[0], flat[-1] = 0, S
    got = fastinfo.sequence_scores(x, labels, lengths=lengths)
    assert_matches(got, oracle(torch, x, labels, counted_mask(labels, lengths=lengths)))
    # without lengths: every position counts
    got = fastinfo.sequence_scores(x, labels)
    assert_matches(got, oracle(torch, x, labels, np.ones(labels.shape, dtype=bool)))


def test_documented_example():
    """The docstring example: 2 of 3 tokens counted, both greedy, perplexity sqrt(2.5)."""
    x = np.log([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]])
    s = fastinfo.sequence_scores(x, [[0, 1, 2]], lengths=[2])
    np.testing.assert_array_equal(s.tokens, [2])
    np.testing.assert_array_equal(s.accuracy, [1.0])
    np.testing.assert_allclose(s.loglik, [math.log(0.5) + math.log(0.8)], rtol=RTOL)
    np.testing.assert_allclose(s.perplexity, [1 / math.sqrt(0.4)], rtol=RTOL)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_low_precision_logits_vs_float64_of_the_same_values(torch, dtype):
    """float32, float16 and bfloat16 logits are read as they are: the scores agree with the
    float64 oracle on the same (rounded) values to 1e-6 relative, accuracy and tokens exactly,
    and the fields stay float64 / int64."""
    x = make_logits((4, 9, 50), seed=7, scale=4.0).astype(as_dtype(dtype))
    xd = x.astype(np.float64)
    labels = make_labels((4, 9), 50, seed=8)
    lengths = np.array([9, 0, 4, 7])
    labels[1, 5:] = -100
    got = fastinfo.sequence_scores(x, labels, lengths=lengths, ignore_index=-100)
    want = oracle(torch, xd, labels, counted_mask(labels, lengths=lengths, ignore_index=-100))
    assert_matches(got, want, rtol=RTOL_LOW, atol=0.0)
    np.testing.assert_array_equal(got.accuracy, want["accuracy"])
    for f in FLOAT_FIELDS:
        assert np.asarray(getattr(got, f)).dtype == np.float64, f
    assert np.asarray(got.tokens).dtype == np.int64


# =========================================================================== counted positions
def test_zero_lengths_give_nan_means_and_a_positive_zero_loglik():
    """A sequence with length 0 counts no token: tokens 0, loglik exactly +0.0 (not -0.0),
    NaN mean_loglik, perplexity and accuracy; its neighbours are unaffected."""
    x = make_logits((3, 4, 5), seed=9)
    labels = make_labels((3, 4), 5, seed=10)
    r = fastinfo.sequence_scores(x, labels, lengths=np.array([0, 4, 0]))
    np.testing.assert_array_equal(r.tokens, [0, 4, 0])
    for i in (0, 2):
        assert r.loglik[i] == 0.0 and not np.signbit(r.loglik[i]), r.loglik[i]
        assert np.isnan(r.mean_loglik[i]) and np.isnan(r.perplexity[i]) and np.isnan(r.accuracy[i])
    assert np.isfinite(r.loglik[1]) and r.loglik[1] < 0 and np.isfinite(r.perplexity[1])
    # the same for a 2-D call (one sequence) of length 0, and for every position ignored
    r = fastinfo.sequence_scores(x[0], labels[0], lengths=np.int64(0))
    assert r.tokens == 0 and r.loglik == 0.0 and not np.signbit(r.loglik)
    assert np.isnan(r.mean_loglik) and np.isnan(r.perplexity) and np.isnan(r.accuracy)
    r = fastinfo.sequence_scores(x, np.full((3, 4), -100), ignore_index=-100)
    np.testing.assert_array_equal(r.tokens, [0, 0, 0])
    assert (r.loglik == 0.0).all() and not np.signbit(r.loglik).any()
    assert np.isnan(r.perplexity).all()


def test_padded_positions_are_not_read(torch):
    """Positions past the length, ignored or False in where may hold garbage labels (-100,
    10**9, -5) and NaN / inf logits: no exception, and the same bits as with clean padding."""
    B, S, V = 4, 6, 7
    clean = make_logits((B, S, V), seed=11)
    labels_clean = make_labels((B, S), V, seed=12)
    lengths = np.array([6, 3, 0, 5])
    where = np.ones((B, S), dtype=bool)
    where[0, 1] = where[3, 0] = False
    ign = np.zeros((B, S), dtype=bool)
    ign[0, 4] = ign[1, 0] = True
    labels_clean = np.where(ign, -7, labels_clean)

    x = clean.copy()
    labels = labels_clean.copy()
    garbage_labels = np.array([-100, 10**9, -5])
    garbage_logits = np.array([np.nan, np.inf, -np.inf])
    pads = [(1, 3), (1, 4), (1, 5), (2, 0), (2, 5), (3, 5)]
    for n, (b, s) in enumerate(pads + [(0, 1), (3, 0)]):      # past the length, where False
        labels[b, s] = garbage_labels[n % 3]
        x[b, s, n % V] = garbage_logits[n % 3]
    x[2] = np.nan                                             # a whole sequence of length 0
    x[0, 4, :] = np.inf                                       # an ignored position
    x[1, 0, 2] = np.nan

    kw = dict(lengths=lengths, where=where, ignore_index=-7, byte_counts=np.array([10, 5, 0, 9]))
    got = fastinfo.sequence_scores(x, labels, **kw)
    ref = fastinfo.sequence_scores(clean, labels_clean, **kw)
    assert_same_bits(got, ref)
    mask = counted_mask(labels_clean, lengths=lengths, ignore_index=-7, where=where)
    assert_matches(got, oracle(torch, clean, labels_clean, mask))


@pytest.mark.parametrize("value", [-100, -5, 7, 10**9])
def test_a_counted_out_of_range_label_raises_naming_its_position(value):
    """A counted label outside [0, V) raises IndexError naming the label and its position;
    -100 comes with the hint of ignore_index."""
    x = make_logits((3, 5, 7), seed=13)
    labels = make_labels((3, 5), 7, seed=14)
    labels[1, 3] = value
    with pytest.raises(IndexError) as e:
        fastinfo.sequence_scores(x, labels)
    msg = str(e.value)
    assert str(value) in msg and "(1, 3)" in msg, msg
    if value == -100:
        assert "ignore_index" in msg, msg
    # the same label past the length is not read
    r = fastinfo.sequence_scores(x, labels, lengths=np.array([5, 3, 5]))
    assert r.tokens[1] == 3


def test_a_length_past_the_sequence_axis_raises_naming_the_sequence():
    """Lengths are counts of the S positions: one above S is a mistake (lengths of another
    batch, or (S, B) logits), refused naming the sequence rather than counted as S."""
    x = make_logits((3, 5, 7), seed=13)
    labels = make_labels((3, 5), 7, seed=14)
    with pytest.raises(ValueError) as e:
        fastinfo.sequence_scores(x, labels, lengths=np.array([5, 6, 2]))
    msg = str(e.value)
    assert "lengths" in msg and "(1,)" in msg and "6" in msg and "5 positions" in msg, msg
    assert fastinfo.sequence_scores(x, labels, lengths=np.array([5, 5, 0])).tokens.tolist() == [5, 5, 0]


@pytest.mark.parametrize("where_shape", ["full", "positions"])
def test_ignore_index_where_and_lengths_combined(torch, where_shape):
    """The counted positions are those below the length, not ignore_index and not False in
    where (a full (B, S) mask or an (S,) one broadcast), all at once."""
    B, S, V = 6, 10, 13
    x = make_logits((B, S, V), seed=15)
    labels = make_labels((B, S), V, seed=16)
    rng = np.random.default_rng(17)
    labels[rng.random((B, S)) < 0.25] = -100
    lengths = np.array([10, 7, 0, 1, 5, 9])
    if where_shape == "full":
        where = rng.random((B, S)) < 0.7
    else:
        where = np.array([True, False, True, True, False, True, True, True, False, True])
    mask = counted_mask(labels, lengths=lengths, ignore_index=-100, where=where)
    got = fastinfo.sequence_scores(x, labels, lengths=lengths, ignore_index=-100, where=where)
    assert_matches(got, oracle(torch, x, labels, mask))
    assert got.tokens.sum() < B * S


# =========================================================================== accuracy
def test_accuracy_is_the_share_of_first_maximal_argmax_hits():
    """accuracy = the share of counted tokens whose label is NumPy's argmax, the first maximal
    index on ties (a label on a later tied maximum is a miss)."""
    B, S, V = 5, 8, 6
    x = np.round(make_logits((B, S, V), seed=18, scale=1.0))        # many ties
    rng = np.random.default_rng(19)
    first = np.argmax(x, axis=-1)
    labels = rng.integers(0, V, size=(B, S))
    hit = rng.random((B, S)) < 0.5
    labels[hit] = first[hit]
    # a label on a tied maximum after the first one
    x[0, 0] = [1.0, 3.0, 0.0, 3.0, 3.0, -1.0]
    labels[0, 0] = 3
    x[0, 1] = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    labels[0, 1] = 0
    first = np.argmax(x, axis=-1)
    lengths = np.array([8, 2, 5, 0, 7])
    mask = counted_mask(labels, lengths=lengths)
    got = fastinfo.sequence_scores(x, labels, lengths=lengths)
    hits = ((first == labels) & mask).sum(-1)
    with np.errstate(invalid="ignore"):
        want = hits / mask.sum(-1)
    np.testing.assert_array_equal(got.accuracy, want)
    # one sequence of two tokens: a miss (a later tie) and a hit (the first of all ties)
    r = fastinfo.sequence_scores(x[0, :2], labels[0, :2])
    assert r.accuracy == 0.5


# =========================================================================== temperature, axis
@pytest.mark.parametrize("temperature", [0.5, 2.0, 7.25])
def test_temperature_vs_torch(torch, temperature):
    """The scores of softmax(logits / T) against PyTorch; accuracy does not depend on T."""
    x = make_logits((3, 8, 20), seed=20)
    labels = make_labels((3, 8), 20, seed=21)
    lengths = np.array([8, 4, 1])
    mask = counted_mask(labels, lengths=lengths)
    got = fastinfo.sequence_scores(x, labels, lengths=lengths, temperature=temperature)
    assert_matches(got, oracle(torch, x, labels, mask, temperature=temperature))
    base = fastinfo.sequence_scores(x, labels, lengths=lengths)
    np.testing.assert_array_equal(got.accuracy, base.accuracy)
    assert not np.allclose(got.loglik, base.loglik)


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_class_axis_elsewhere(torch, axis):
    """axis names the class axis; the sequence axis is the last of the others: the result
    equals the call on logits with the classes moved last, and the oracle."""
    B, S, V = 4, 6, 9
    x_last = make_logits((B, S, V), seed=22)
    labels = make_labels((B, S), V, seed=23)
    lengths = np.array([6, 2, 0, 5])
    x = np.ascontiguousarray(np.moveaxis(x_last, -1, axis))
    got = fastinfo.sequence_scores(x, labels, lengths=lengths, axis=axis)
    ref = fastinfo.sequence_scores(x_last, labels, lengths=lengths)
    assert_matches(got, oracle(torch, x, labels, counted_mask(labels, lengths=lengths), axis=axis))
    for f in FLOAT_FIELDS:
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=RTOL, atol=ATOL, err_msg=f)


# =========================================================================== bits per byte
def test_bits_per_byte_formula(torch):
    """bits_per_byte = -loglik / (ln 2 x byte_counts), with loglik from the oracle."""
    x = make_logits((2, 3, 5, 40), seed=24)
    labels = make_labels((2, 3, 5), 40, seed=25)
    lengths = np.array([[5, 3, 1], [4, 5, 2]])
    byte_counts = np.array([[21, 9, 3], [17, 30, 5]])
    got = fastinfo.sequence_scores(x, labels, lengths=lengths, byte_counts=byte_counts)
    want = oracle(torch, x, labels, counted_mask(labels, lengths=lengths))
    assert np.asarray(got.bits_per_byte).dtype == np.float64
    assert np.shape(got.bits_per_byte) == (2, 3)
    np.testing.assert_allclose(got.bits_per_byte, -want["loglik"] / (math.log(2.0) * byte_counts),
                               rtol=RTOL, atol=ATOL)
    assert (got.bits_per_byte > 0).all()


# =========================================================================== perplexity(per=...)
@pytest.mark.parametrize("shape", [(5, 7, 11), (2, 3, 6, 9), (8, 5)], ids=["BSV", "ABSV", "SV"])
def test_perplexity_per_sequence_is_sequence_scores_perplexity(torch, shape):
    """perplexity(per="sequence") equals sequence_scores(...).perplexity (with ignore_index,
    NaN for a sequence with every label ignored) and the oracle."""
    x = make_logits(shape, seed=26)
    V = shape[-1]
    labels = make_labels(shape[:-1], V, seed=27)
    labels[np.random.default_rng(28).random(labels.shape) < 0.3] = -100
    if labels.ndim > 1:
        labels.reshape(-1, labels.shape[-1])[0] = -100
    got = fastinfo.perplexity(x, labels, ignore_index=-100, per="sequence")
    ref = fastinfo.sequence_scores(x, labels, ignore_index=-100).perplexity
    assert np.shape(got) == shape[:-2] and np.asarray(got).dtype == np.float64
    np.testing.assert_array_equal(got, ref)
    want = oracle(torch, x, labels, counted_mask(labels, ignore_index=-100))["perplexity"]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # and with the class axis first
    xa = np.ascontiguousarray(np.moveaxis(x, -1, 0))
    got0 = fastinfo.perplexity(xa, labels, ignore_index=-100, per="sequence", axis=0)
    np.testing.assert_allclose(got0, want, rtol=RTOL, atol=ATOL)


def test_perplexity_per_token_is_the_pooled_exp_cross_entropy(torch):
    """per="token" (the default) is exp of the mean NLL pooled over every counted token, as
    exp(torch cross_entropy(ignore_index=-100)); it differs from the mean per-sequence one."""
    B, S, V = 4, 9, 15
    x = make_logits((B, S, V), seed=29)
    labels = make_labels((B, S), V, seed=30)
    labels[0, 2:] = -100
    labels[2, 5] = -100
    F = torch.nn.functional
    want = math.exp(F.cross_entropy(torch.from_numpy(x.reshape(-1, V)),
                                    torch.from_numpy(labels.reshape(-1)), ignore_index=-100).item())
    got = fastinfo.perplexity(x, labels, ignore_index=-100)
    np.testing.assert_allclose(float(got), want, rtol=RTOL)
    got_t = fastinfo.perplexity(x, labels, ignore_index=-100, per="token")
    np.testing.assert_allclose(float(got_t), want, rtol=RTOL)
    per_seq = fastinfo.perplexity(x, labels, ignore_index=-100, per="sequence")
    assert not np.isclose(np.mean(per_seq), want)


@pytest.mark.parametrize("per", ["tokens", "batch", "", "Sequences"])
def test_perplexity_bad_per_raises(per):
    """A value of per other than "token" and "sequence" raises ValueError."""
    x = make_logits((2, 3, 4), seed=31)
    labels = make_labels((2, 3), 4, seed=32)
    with pytest.raises(ValueError):
        fastinfo.perplexity(x, labels, per=per)


# =========================================================================== threads, torch
def test_one_thread_and_two_agree_bitwise():
    """n_threads=1 and n_threads=2 give the same bits in every field (8 x 64 x 2000 float32)."""
    B, S, V = 8, 64, 2000
    x = make_logits((B, S, V), seed=33, scale=4.0).astype(np.float32)
    labels = make_labels((B, S), V, seed=34)
    labels[2, 10:20] = -100
    lengths = np.array([64, 50, 30, 0, 1, 64, 63, 17])
    kw = dict(lengths=lengths, ignore_index=-100, byte_counts=np.arange(B) * 40 + 100,
              temperature=0.8)
    a = fastinfo.sequence_scores(x, labels, n_threads=1, **kw)
    b = fastinfo.sequence_scores(x, labels, n_threads=2, **kw)
    assert_same_bits(a, b)
    pa = fastinfo.perplexity(x, labels, ignore_index=-100, per="sequence", n_threads=1)
    pb = fastinfo.perplexity(x, labels, ignore_index=-100, per="sequence", n_threads=2)
    assert np.asarray(pa).tobytes() == np.asarray(pb).tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_tensors_in_give_tensors_out(torch, dtype):
    """torch logits and labels give a torch tensor in every array field, of float64 (int64 for
    tokens), holding the NumPy call's values."""
    x = make_logits((3, 5, 8), seed=35).astype(dtype)
    labels = make_labels((3, 5), 8, seed=36)
    labels[0, 4] = -100
    lengths = np.array([5, 2, 0])
    ref = fastinfo.sequence_scores(x, labels, lengths=lengths, ignore_index=-100)
    r = fastinfo.sequence_scores(torch.from_numpy(x.copy()), torch.from_numpy(labels.copy()),
                                 lengths=torch.from_numpy(lengths.copy()), ignore_index=-100)
    assert r.bits_per_byte is None
    for f in FIELDS[:-1]:
        v = getattr(r, f)
        assert isinstance(v, torch.Tensor), (f, type(v))
        assert v.dtype == (torch.int64 if f == "tokens" else torch.float64), (f, v.dtype)
        np.testing.assert_array_equal(numpy_of(v), getattr(ref, f), err_msg=f)
    r = fastinfo.sequence_scores(torch.from_numpy(x.copy()), torch.from_numpy(labels.copy()),
                                 ignore_index=-100, byte_counts=torch.tensor([10.0, 20.0, 30.0]))
    assert isinstance(r.bits_per_byte, torch.Tensor) and isinstance(r.loglik, torch.Tensor)


# =========================================================================== properties
@st.composite
def scored_batches(draw):
    """Logits (B, S, V) of finite values, valid labels with some -100, and lengths."""
    B = draw(st.integers(1, 3))
    S = draw(st.integers(1, 6))
    V = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 10.0, 300.0]))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, S, V)) * scale + draw(st.sampled_from([0.0, -50.0, 1e4]))
    labels = rng.integers(0, V, size=(B, S))
    labels[rng.random((B, S)) < 0.2] = -100
    lengths = rng.integers(0, S + 1, size=B)
    return x, labels, lengths


@SETTINGS
@given(scored_batches())
def test_properties_perplexity_at_least_one_and_consistent(case):
    """perplexity >= 1 wherever a token is counted, exp(-mean_loglik) == perplexity,
    tokens == the sum of the counted mask, loglik <= 0 and accuracy in [0, 1]."""
    x, labels, lengths = case
    r = fastinfo.sequence_scores(x, labels, lengths=lengths, ignore_index=-100)
    mask = counted_mask(labels, lengths=lengths, ignore_index=-100)
    np.testing.assert_array_equal(r.tokens, mask.sum(-1))
    on = r.tokens > 0
    assert (r.perplexity[on] >= 1.0).all(), r.perplexity
    assert (r.loglik <= 0.0).all()
    assert ((r.accuracy[on] >= 0) & (r.accuracy[on] <= 1)).all()
    assert np.isnan(r.perplexity[~on]).all() and np.isnan(r.mean_loglik[~on]).all()
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(np.exp(-r.mean_loglik), r.perplexity, rtol=4 * np.finfo(float).eps)


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 7), st.integers(2, 300),
       st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), st.integers(0, 2**32 - 1))
def test_properties_uniform_logits_have_perplexity_v(B, S, V, c, seed):
    """Logits constant along the class axis (any constant per position) give perplexity V in
    every sequence with a counted token (rtol 1e-12), and perplexity(per="token") V too."""
    rng = np.random.default_rng(seed)
    x = np.broadcast_to(c + rng.integers(-3, 4, size=(B, S, 1)).astype(float), (B, S, V)).copy()
    labels = rng.integers(0, V, size=(B, S))
    lengths = rng.integers(1, S + 1, size=B)
    r = fastinfo.sequence_scores(x, labels, lengths=lengths)
    np.testing.assert_allclose(r.perplexity, np.full(B, float(V)), rtol=1e-12)
    np.testing.assert_allclose(float(fastinfo.perplexity(x, labels)), V, rtol=1e-12)
