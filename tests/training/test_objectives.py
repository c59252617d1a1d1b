"""fastinfo.objectives: LightGBM and XGBoost trained with them on data sets scikit-learn ships,
beside the boosters' own objectives; their layouts and both calling forms.

Tolerance, written in docs/api/training.rst: on the digits (10 classes) and breast-cancer
(binary) test splits, a model trained with a fastinfo objective is within 2 percentage points
of the accuracy of the same booster with its own objective. With the same starting score,
XGBoost's multi:softprob and xgboost_multiclass (its curvature 2 p (1 - p)) give the same
trees: their margins agree to float32 rounding.
"""

import numpy as np
import pytest

from fastinfo import objectives, softmax_cross_entropy_grad_hess

lgb = pytest.importorskip("lightgbm", reason="LightGBM is not installed (pip install lightgbm)")
xgb = pytest.importorskip("xgboost", reason="XGBoost is not installed (pip install xgboost-cpu)")
datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")

TOL = 0.02


@pytest.fixture(scope="module")
def digits():
    X, y = datasets.load_digits(return_X_y=True)
    return model_selection.train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def cancer():
    X, y = datasets.load_breast_cancer(return_X_y=True)
    return model_selection.train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


LGB = dict(learning_rate=0.1, num_leaves=15, verbose=-1, seed=0, num_threads=2, deterministic=True)
XGB = dict(eta=0.3, max_depth=4, nthread=2, seed=0)


def _acc(scores, y):
    return float(((scores.argmax(1) if scores.ndim == 2 else scores > 0) == y).mean())


def test_lightgbm_multiclass_reaches_the_builtin_accuracy(digits):
    Xtr, Xte, ytr, yte = digits
    p = {**LGB, "num_class": 10}
    own = lgb.train({**p, "objective": "multiclass"}, lgb.Dataset(Xtr, ytr), 100)
    ours = lgb.train({**p, "objective": objectives.lightgbm_multiclass(10)}, lgb.Dataset(Xtr, ytr), 100)
    a_own, a_ours = _acc(own.predict(Xte), yte), _acc(ours.predict(Xte), yte)
    assert a_own > 0.95
    assert abs(a_ours - a_own) <= TOL, (a_ours, a_own)
    focal = lgb.train({**p, "objective": objectives.lightgbm_multiclass(10, gamma=2.0)}, lgb.Dataset(Xtr, ytr), 100)
    assert abs(_acc(focal.predict(Xte), yte) - a_own) <= TOL


def test_lightgbm_scikit_learn_form(digits):
    Xtr, Xte, ytr, yte = digits
    clf = lgb.LGBMClassifier(objective=objectives.lightgbm_multiclass(10), n_estimators=60, **LGB)
    clf.fit(Xtr, ytr, sample_weight=np.ones(len(ytr)))
    own = lgb.LGBMClassifier(n_estimators=60, **LGB).fit(Xtr, ytr)
    raw = clf.predict(Xte, raw_score=True)
    assert abs(_acc(raw, yte) - float((own.predict(Xte) == yte).mean())) <= TOL


def test_xgboost_multiclass_grows_the_builtin_trees(digits):
    Xtr, Xte, ytr, yte = digits
    p = {**XGB, "num_class": 10, "base_score": 0.0}
    d = xgb.DMatrix(Xtr, ytr)
    dte = xgb.DMatrix(Xte)
    own = xgb.train({**p, "objective": "multi:softprob"}, d, 3).predict(dte, output_margin=True)
    ours = xgb.train({**p, "objective": "multi:softprob", "disable_default_eval_metric": 1}, d, 3,
                     obj=objectives.xgboost_multiclass(10)).predict(dte, output_margin=True)
    np.testing.assert_allclose(ours, own, rtol=0, atol=1e-5)


def test_xgboost_multiclass_reaches_the_builtin_accuracy(digits):
    Xtr, Xte, ytr, yte = digits
    p = {**XGB, "num_class": 10}
    d = xgb.DMatrix(Xtr, ytr)
    dte = xgb.DMatrix(Xte)
    own = _acc(xgb.train({**p, "objective": "multi:softprob"}, d, 50).predict(dte, output_margin=True), yte)
    for obj in (objectives.xgboost_multiclass(10), objectives.xgboost_multiclass(10, gamma=2.0)):
        acc = _acc(xgb.train({**p, "disable_default_eval_metric": 1}, d, 50, obj=obj).predict(dte, output_margin=True),
                   yte)
        assert abs(acc - own) <= TOL, (obj, acc, own)
    clf = xgb.XGBClassifier(objective=objectives.xgboost_multiclass(10), n_estimators=50, max_depth=4,
                            learning_rate=0.3, n_jobs=2, random_state=0)
    clf.fit(Xtr, ytr)
    assert abs(_acc(clf.predict(Xte, output_margin=True), yte) - own) <= TOL


def test_binary_objectives_reach_the_builtin_accuracy(cancer):
    Xtr, Xte, ytr, yte = cancer
    own = _acc(lgb.train({**LGB, "objective": "binary"}, lgb.Dataset(Xtr, ytr), 80).predict(Xte, raw_score=True),
               yte)
    for obj in (objectives.lightgbm_binary(), objectives.lightgbm_binary(gamma=2.0)):
        acc = _acc(lgb.train({**LGB, "objective": obj}, lgb.Dataset(Xtr, ytr), 80).predict(Xte, raw_score=True), yte)
        assert abs(acc - own) <= TOL + 0.01, (obj, acc, own)     # 171 test rows: one row is 0.6 points
    d = xgb.DMatrix(Xtr, ytr)
    dte = xgb.DMatrix(Xte)
    own = _acc(xgb.train({**XGB, "objective": "binary:logistic"}, d, 40).predict(dte, output_margin=True), yte)
    acc = _acc(xgb.train({**XGB, "disable_default_eval_metric": 1}, d, 40, obj=objectives.xgboost_binary())
               .predict(dte, output_margin=True), yte)
    assert abs(acc - own) <= TOL + 0.01


class _Data:
    """A stand-in for lightgbm.Dataset / xgboost.DMatrix: labels and weights"""

    def __init__(self, y, w=None):
        self.y, self.w = y, w

    def get_label(self):
        return self.y

    def get_weight(self):
        return self.w


def test_layouts_and_weights():
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((50, 4))
    y = rng.integers(0, 4, 50).astype(np.float32)
    w = rng.random(50)
    g0, h0 = softmax_cross_entropy_grad_hess(raw, y, sample_weight=w)
    gl, hl = objectives.lightgbm_multiclass(4)(raw, _Data(y, w))
    gx, hx = objectives.xgboost_multiclass(4, hessian="diagonal")(raw, _Data(y, w))
    assert gl.dtype == np.float32 and gl.flags.f_contiguous and gx.flags.c_contiguous
    for g, h in ((gl, hl), (gx, hx)):
        np.testing.assert_allclose(g, g0, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(h, h0, rtol=1e-6, atol=1e-7)
    # flat scores: LightGBM 3 class after class, XGBoost sample after sample
    gf, _ = objectives.lightgbm_multiclass(4)(raw.ravel(order="F"), _Data(y, w))
    np.testing.assert_array_equal(gf, gl)
    gf, _ = objectives.xgboost_multiclass(4, hessian="diagonal")(raw.ravel(), _Data(y, w))
    np.testing.assert_array_equal(gf, gx)
    # XGBoost's DMatrix gives an empty array when there are no weights
    gu, _ = objectives.xgboost_multiclass(4)(raw, _Data(y, np.empty(0)))
    np.testing.assert_allclose(gu, softmax_cross_entropy_grad_hess(raw, y)[0], rtol=1e-6, atol=1e-7)


def test_focal_hessian_is_floored():
    rng = np.random.default_rng(4)
    raw = rng.standard_normal((200, 5)) * 4
    y = rng.integers(0, 5, 200)
    assert (softmax_cross_entropy_grad_hess(raw, y, gamma=2.0)[1] < 0).any()
    _, h = objectives.lightgbm_multiclass(5, gamma=2.0, hess_floor=1e-6)(y, raw)
    assert h.min() >= np.float32(1e-6)


def test_argument_errors_say_what_to_fix():
    with pytest.raises(ValueError, match="num_class"):
        objectives.lightgbm_multiclass(1)
    with pytest.raises(ValueError, match="gamma"):
        objectives.xgboost_binary(gamma=-2.0)
    with pytest.raises(ValueError, match="hess_floor"):
        objectives.lightgbm_binary(hess_floor=np.nan)
    with pytest.raises(ValueError, match="num_class"):
        objectives.lightgbm_multiclass(3)(np.zeros((10, 4)), _Data(np.zeros(10)))
    assert "num_class=3" in repr(objectives.lightgbm_multiclass(3))


def test_labels_changed_in_place_between_rounds_are_seen():
    """The class indices are kept across rounds only while the label array holds the same values."""
    rng = np.random.default_rng(6)
    raw = rng.standard_normal((30, 3))
    y = rng.integers(0, 3, 30).astype(np.float32)
    data = _Data(y)
    obj = objectives.lightgbm_multiclass(3)
    g1 = obj(raw, data)[0].copy()
    y[:10] = (y[:10] + 1) % 3                          # the same array, other labels
    g2 = obj(raw, data)[0]
    np.testing.assert_allclose(g2, softmax_cross_entropy_grad_hess(raw, y)[0], rtol=1e-6, atol=1e-7)
    assert not np.array_equal(g1, g2)
