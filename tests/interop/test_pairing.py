"""Two labelled inputs pair by name (xarray dimensions) or refuse to pair silently (pandas
indexes that differ); other arguments of other libraries (class weights) and out= tensors."""
import warnings

import numpy as np
import pytest

import fastinfo

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")
torch = pytest.importorskip("torch")

rng = np.random.default_rng(5)
A = rng.dirichlet(np.ones(3), 3)
B = rng.dirichlet(np.ones(3), 3)


def test_xarray_second_input_is_matched_by_dimension_name():
    a = xr.DataArray(A, dims=("row", "cls"))
    b = xr.DataArray(B, dims=("row", "cls"))
    got = fastinfo.kl_divergence(a, b.transpose(), axis="cls")
    np.testing.assert_array_equal(got.values, fastinfo.kl_divergence(A, B))


def test_xarray_coordinates_that_differ_are_refused():
    a = xr.DataArray(A, dims=("row", "cls"), coords={"row": [1, 2, 3]})
    b = xr.DataArray(B, dims=("row", "cls"), coords={"row": [3, 2, 1]})
    with pytest.raises(ValueError, match="xarray.align"):
        fastinfo.kl_divergence(a, b, axis="cls")


def test_pandas_indexes_that_differ_are_refused():
    p = pd.DataFrame(A, index=list("abc"))
    q = pd.DataFrame(B, index=list("abc"))
    np.testing.assert_array_equal(fastinfo.kl_divergence(p, q).values, fastinfo.kl_divergence(A, B))
    with pytest.raises(ValueError, match="different indexes"):
        fastinfo.kl_divergence(p, q.iloc[::-1])
    with pytest.raises(ValueError, match="different columns"):
        fastinfo.kl_divergence(p, q[[2, 1, 0]])


def test_pairwise_rows_need_not_match():
    p = pd.DataFrame(A, index=list("abc"))
    q = pd.DataFrame(B[:2], index=["x", "y"])
    got = fastinfo.pairwise_kl_divergence(p, q)
    assert list(got.index) == list("abc") and list(got.columns) == ["x", "y"]
    np.testing.assert_array_equal(got.values, fastinfo.pairwise_kl_divergence(A, B[:2]))


def test_class_weights_of_other_libraries():
    logits = torch.tensor(rng.standard_normal((4, 5)))
    y = torch.tensor([0, 1, 2, 4])
    w = torch.rand(5, dtype=torch.float64, requires_grad=True)
    got = fastinfo.softmax_cross_entropy(logits, y, weight=w, reduction="mean")
    want = torch.nn.functional.cross_entropy(logits, y, weight=w.detach(), reduction="mean")
    assert torch.is_tensor(got) and float(got) == pytest.approx(float(want), rel=1e-12)
    got16 = fastinfo.softmax_cross_entropy(logits.float(), y, weight=w.detach().bfloat16())
    assert got16.dtype == torch.float32


def test_out_as_a_torch_tensor_is_filled_in_place():
    logits = torch.tensor(rng.standard_normal((4, 5)))
    out = torch.empty(4, dtype=torch.float64)
    assert fastinfo.softmax_entropy(logits, out=out) is out
    np.testing.assert_array_equal(out.numpy(), fastinfo.softmax_entropy(logits.numpy()))
    with pytest.raises(TypeError, match="out must be"):
        fastinfo.softmax_entropy(logits, out=torch.empty(4, dtype=torch.float64, requires_grad=True))


@pytest.mark.parametrize("bad", ["yes", [], 1, 0.0, "False"])
def test_normalize_takes_true_false_or_none(bad):
    with pytest.raises(TypeError, match="normalize must be"):
        fastinfo.entropy(A, normalize=bad)
    with pytest.raises(TypeError, match="normalize must be"):
        fastinfo.mutual_information(A, normalize=bad)
    with pytest.raises(TypeError, match="normalize must be"):
        fastinfo.pairwise_kl_divergence(A, B, normalize=bad)


def test_joint_and_pairwise_check_the_sums():
    counts = np.array([[10.0, 2.0], [3.0, 15.0]])
    with pytest.warns(UserWarning, match="pxy sums to 30"):
        fastinfo.mutual_information(counts)
    with pytest.warns(UserWarning, match="P sums to 4"):
        fastinfo.pairwise_kl_divergence([[3.0, 1.0]], [[0.5, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastinfo.mutual_information(counts / 30)
        fastinfo.mutual_information(counts, normalize=False)
        fastinfo.pairwise_js_divergence(A, B)


def test_dask_blocks_do_not_warn_one_by_one():
    da = pytest.importorskip("dask.array")
    x = da.from_array(A * 4, chunks=(1, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(fastinfo.entropy(x).compute(), fastinfo.entropy(A * 4, normalize=False))
