"""Each format is detected from the artifact, loads with its real library, advertises its real
tensors and predicts what the in-memory model predicts; refusals say which format and why."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io
import xgboost
from mlflow.models import infer_signature
from skl2onnx import to_onnx
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlpatterns_server.errors import ModelLoadError
from mlpatterns_server.loading.formats import detect_format, load_model
from mlpatterns_server.protocol.tensors import TensorSpec
from tests.support.custom_transform import double
from tests.support.model_server import Iris

ROWS = slice(0, 150, 7)


def test_joblib(iris: Iris) -> None:
    predictor = load_model(iris.joblib_dir)
    assert predictor.format == "sklearn"
    assert predictor.inputs == [TensorSpec("input-0", "FP64", (-1, 4))]
    assert predictor.outputs == [TensorSpec("predict", "INT64", (-1,)), TensorSpec("predict_proba", "FP64", (-1, 3))]
    answer = predictor.predict({"input-0": iris.features[ROWS]}, ["predict", "predict_proba"])
    np.testing.assert_array_equal(answer["predict"], iris.estimator.predict(iris.features[ROWS]))
    np.testing.assert_allclose(answer["predict_proba"], iris.estimator.predict_proba(iris.features[ROWS]))


def test_plain_pickle(iris: Iris, tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(iris.estimator))
    assert detect_format(tmp_path) == ("sklearn", path)
    answer = load_model(tmp_path).predict({"input-0": iris.features[ROWS]}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], iris.estimator.predict(iris.features[ROWS]))


def test_estimator_fitted_on_a_dataframe_gets_its_columns(iris: Iris, tmp_path: Path) -> None:
    frame = pd.DataFrame(iris.features, columns=["sl", "sw", "pl", "pw"])
    pipeline = make_pipeline(StandardScaler(), FunctionTransformer()).fit(frame)
    from sklearn.linear_model import LogisticRegression

    estimator = make_pipeline(pipeline, LogisticRegression(max_iter=500)).fit(frame, iris.labels)
    joblib.dump(estimator, tmp_path / "model.joblib")
    answer = load_model(tmp_path).predict({"input-0": iris.features[ROWS]}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], estimator.predict(frame.iloc[ROWS]))


def test_skops_loads_scikit_learn_types(iris: Iris, tmp_path: Path) -> None:
    skops.io.dump(iris.estimator, tmp_path / "model.skops")
    answer = load_model(tmp_path).predict({"input-0": iris.features[ROWS]}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], iris.estimator.predict(iris.features[ROWS]))


def test_skops_refuses_types_it_was_not_told_to_trust(iris: Iris, tmp_path: Path) -> None:
    estimator = make_pipeline(FunctionTransformer(double), StandardScaler()).fit(iris.features)
    from sklearn.linear_model import LogisticRegression

    model = make_pipeline(estimator, LogisticRegression(max_iter=500)).fit(iris.features, iris.labels)
    skops.io.dump(model, tmp_path / "model.skops")
    with pytest.raises(ModelLoadError, match=r"tests\.support\.custom_transform\.double.*--skops_trusted_types"):
        load_model(tmp_path)
    trusted = load_model(tmp_path, skops_trusted_types=["tests.support.custom_transform.double"])
    answer = trusted.predict({"input-0": iris.features[ROWS]}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], model.predict(iris.features[ROWS]))


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_classifier_answers_like_scikit_learn(iris: Iris, tmp_path: Path, suffix: str) -> None:
    classifier = xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(iris.features, iris.labels)
    classifier.save_model(tmp_path / f"model{suffix}")
    predictor = load_model(tmp_path)
    assert predictor.format == "xgboost"
    assert [spec.name for spec in predictor.outputs] == ["predict", "predict_proba"]
    answer = predictor.predict({"input-0": iris.features[ROWS]}, ["predict", "predict_proba"])
    np.testing.assert_array_equal(answer["predict"], classifier.predict(iris.features[ROWS]))
    np.testing.assert_allclose(answer["predict_proba"], classifier.predict_proba(iris.features[ROWS]), rtol=1e-6)


def test_xgboost_booster_answers_with_its_objective(iris: Iris, tmp_path: Path) -> None:
    data = xgboost.DMatrix(iris.features, label=iris.labels)
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 3}, data, num_boost_round=5)
    booster.save_model(tmp_path / "model.json")
    # A metadata file beside the model is not mistaken for a second model.
    (tmp_path / "config.json").write_text(json.dumps({"threshold": 0.5}))
    predictor = load_model(tmp_path)
    assert predictor.inputs == [TensorSpec("input-0", "FP32", (-1, 4))]
    assert predictor.outputs == [TensorSpec("predict", "FP32", (-1, -1))]
    answer = predictor.predict({"input-0": iris.features[ROWS].astype(np.float32)}, ["predict"])
    np.testing.assert_allclose(answer["predict"], booster.predict(xgboost.DMatrix(iris.features[ROWS])), rtol=1e-6)


def test_onnx_tensors_come_from_the_graph(iris: Iris, tmp_path: Path) -> None:
    onnx_model = to_onnx(iris.estimator, iris.features[:1].astype(np.float32), options={"zipmap": False})
    (tmp_path / "model.onnx").write_bytes(onnx_model.SerializeToString())
    predictor = load_model(tmp_path)
    assert predictor.format == "onnx"
    assert predictor.inputs == [TensorSpec("X", "FP32", (-1, 4))]
    assert predictor.outputs == [TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 3))]
    answer = predictor.predict({"X": iris.features[ROWS]}, ["label", "probabilities"])
    np.testing.assert_array_equal(answer["label"], iris.estimator.predict(iris.features[ROWS]))
    np.testing.assert_allclose(answer["probabilities"], iris.estimator.predict_proba(iris.features[ROWS]), atol=1e-5)


def test_onnx_non_tensor_outputs_are_left_out(iris: Iris, tmp_path: Path) -> None:
    onnx_model = to_onnx(iris.estimator, iris.features[:1].astype(np.float32))  # ZipMap: a sequence of maps
    (tmp_path / "model.onnx").write_bytes(onnx_model.SerializeToString())
    assert [spec.name for spec in load_model(tmp_path).outputs] == ["output_label"]


def test_mlflow_column_signature(iris: Iris, tmp_path: Path) -> None:
    frame = pd.DataFrame(iris.features, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    path = tmp_path / "model"
    mlflow.sklearn.save_model(iris.estimator, path, signature=infer_signature(frame, iris.estimator.predict(frame)))
    predictor = load_model(path)
    assert predictor.format == "mlflow"
    assert predictor.inputs == [TensorSpec(name, "FP64", (-1,)) for name in frame.columns]
    assert predictor.outputs == [TensorSpec("predict", "INT64", (-1,))]
    answer = predictor.predict({name: frame[name].to_numpy()[ROWS] for name in frame.columns}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], iris.estimator.predict(iris.features[ROWS]))


def test_mlflow_tensor_signature(iris: Iris, tmp_path: Path) -> None:
    path = tmp_path / "model"
    signature = infer_signature(iris.features, iris.estimator.predict(iris.features))
    mlflow.sklearn.save_model(iris.estimator, path, signature=signature)
    predictor = load_model(path)
    assert predictor.inputs == [TensorSpec("input-0", "FP64", (-1, 4))]
    answer = predictor.predict({"input-0": iris.features[ROWS]}, ["predict"])
    np.testing.assert_array_equal(answer["predict"], iris.estimator.predict(iris.features[ROWS]))


@pytest.mark.parametrize(
    ("files", "requested", "message"),
    [
        (
            {},
            "auto",
            r"no model found in .*: expected an MLmodel file \(MLflow\) or one of \*\.joblib.*; found nothing",
        ),
        ({"notes.txt": b"hi", "data.csv": b"a,b"}, "auto", r"no model found .*found data\.csv, notes\.txt"),
        ({"a.joblib": b"x", "b.onnx": b"y"}, "auto", r"several model files \(a\.joblib, b\.onnx\); keep one"),
        (
            {"model.joblib": b"not a pickle"},
            "auto",
            r"model\.joblib was detected as format 'sklearn' but does not load",
        ),
        ({"model.onnx": b"not onnx"}, "auto", r"model\.onnx was detected as format 'onnx' but does not load"),
        ({"model.joblib": b"x"}, "onnx", r"expected a model file of format 'onnx'; found model\.joblib"),
        ({"model.joblib": b"x"}, "mlflow", r"--model_format mlflow, but .* has no MLmodel file"),
    ],
    ids=["empty", "no-model-files", "two-models", "corrupt-joblib", "corrupt-onnx", "forced-format", "forced-mlflow"],
)
def test_refusals_say_why(tmp_path: Path, files: dict[str, bytes], requested: str, message: str) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        load_model(tmp_path, requested)


def test_a_pickle_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    joblib.dump({"weights": [1, 2]}, tmp_path / "model.joblib")
    with pytest.raises(
        ModelLoadError, match=r"model\.joblib holds a dict, not an estimator with predict\(\) or transform\(\)"
    ):
        load_model(tmp_path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "absent")
