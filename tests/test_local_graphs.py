"""The InferenceGraph charts end to end under `mlpatterns up`, real processes only: the gateway runs
each graph with KServe's router semantics and calls every model's own server.

- microservice-vertical: B is sent exactly A's answer (their prediction logs, joined on the
  request id) and the client gets B's; the early-stop condition skips B when, and only when, it
  does not hold.
- microservice-horizontal: the aggregate equals the vote computed from each model's own answers;
  a Soft model killed mid-traffic fails no request; a Hard one fails requests with a 5xx that
  names it.
- condition-based: a Switch on a body field sends each request to its model, beside a header route.
- online-ab with trafficRouter inferencegraph: a Splitter shares the requests by weight.
Each chart's own helm test runs against the gateway too."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pytest
import redis
import yaml
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from tests.support.helm_tests import helm_test
from tests.support.local_up import Up
from tests.support.metrics import sample
from tests.test_local_runtime import send, within


@dataclass(frozen=True)
class Models:
    folder: Path
    rows: np.ndarray

    def __getitem__(self, name: str) -> str:
        return str(self.folder / name)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    folder = tmp_path_factory.mktemp("graph-models")
    features, labels = load_iris(return_X_y=True)
    components = PCA(n_components=2, random_state=0).fit_transform(features)
    estimators = {
        # A feature chain: 4 measurements -> 2 components (a multi-output regressor) -> a class.
        "embed": LinearRegression().fit(features, components),
        "classify2": LogisticRegression(max_iter=1000).fit(components, labels),
        "screen": LogisticRegression(max_iter=1000).fit(features, labels),
        "always2": DummyClassifier(strategy="constant", constant=2).fit(features, labels),
        "logistic": LogisticRegression(max_iter=1000).fit(features, labels),
        "tree": DecisionTreeClassifier(max_depth=1, random_state=0).fit(features, labels),
        "forest": RandomForestClassifier(n_estimators=5, max_depth=2, random_state=1).fit(features, labels),
    }
    for name, estimator in estimators.items():
        (folder / name).mkdir()
        joblib.dump(estimator, folder / name / "model.joblib")
    return Models(folder, features)


def start(tmp_path: Path, chart: str, values: dict[str, Any]) -> Up:
    values_file = tmp_path / f"{chart}-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return Up(tmp_path / "home", chart, extra=("--no-prometheus", "-f", str(values_file)))


@pytest.fixture
def stopping() -> Iterator[list[Up]]:
    started: list[Up] = []
    yield started
    for up in started:
        up.interrupt()
        assert up.leftovers() == []


def post(up: Up, rows: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{up.gateway}/v1/models/iris:predict", json={"instances": np.asarray(rows).tolist()},
                      headers=headers, timeout=60)  # fmt: skip


def requests_of(up: Up, process: str) -> float:
    return sample(f"{up.named(process)['url']}/metrics", "mlpatterns_requests_total", code="200")


def model(name: str, uri: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "model": {"uri": uri, "format": "sklearn"}, **more}


def test_a_chain_sends_b_exactly_as_answer_and_the_client_gets_bs(
    models: Models, tmp_path: Path, stopping: list[Up]
) -> None:
    up = start(tmp_path, "microservice-vertical", {
        "models": [model("embed", models["embed"]), model("classify", models["classify2"])],
        "sequence": [{"model": "embed"}, {"model": "classify", "data": "$response", "mapPredictionsToInstances": True,
                                          "dependency": "Hard"}],
        "redis": {"create": True}, "server": {"predictionLog": {"sink": "redis"}},
    })  # fmt: skip
    stopping.append(up)
    rows = models.rows[::15]
    answer = post(up, rows, **{"x-request-id": "chain-1"})
    assert answer.status_code == 200, answer.text
    embedded = joblib.load(Path(models["embed"]) / "model.joblib").predict(rows)
    expected = joblib.load(Path(models["classify2"]) / "model.joblib").predict(embedded)
    assert answer.json() == {"predictions": expected.tolist()}

    # What B was sent, from the prediction logs of both, joined on the client's request id.
    # Typed loosely: redis-py's stubs type stream replies as one union for every command.
    client: Any = redis.Redis.from_url(up.named("redis")["url"].replace("http://", "redis://"))
    deadline = time.monotonic() + 30
    while True:
        events = [json.loads(fields[b"event"]) for _, fields in client.xrange("mlpatterns:predictions")]
        by_role = {event["role"]: event for event in events if event["request_id"] == "chain-1"}
        if len(by_role) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    ((a_output,),) = [by_role["embed"]["outputs"].values()]
    ((b_input,),) = [by_role["classify"]["inputs"].values()]
    assert b_input == a_output
    np.testing.assert_allclose(a_output, embedded)

    passed = helm_test("microservice-vertical", URL=f"{up.gateway}/v1/models/iris:predict")
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_the_condition_ends_the_chain_early_when_and_only_when_it_does_not_hold(
    models: Models, tmp_path: Path, stopping: list[Up]
) -> None:
    # The chart's default chain: `classify` runs only when `screen` answers some class but 0.
    up = start(tmp_path, "microservice-vertical", {
        "models": [model("screen", models["screen"]), model("classify", models["always2"])]})  # fmt: skip
    stopping.append(up)
    setosa, versicolor = models.rows[:3], models.rows[60:61]
    before = requests_of(up, "classify-predictor")
    assert post(up, setosa).json() == {"predictions": [0, 0, 0]}  # screen's own answer
    assert requests_of(up, "classify-predictor") == before
    assert post(up, versicolor).json() == {"predictions": [2]}  # classify's
    assert requests_of(up, "classify-predictor") == before + 1
    assert post(up, np.vstack([setosa, versicolor])).json() == {"predictions": [2, 2, 2, 2]}


@pytest.fixture
def ensemble(models: Models, tmp_path: Path, stopping: list[Up]) -> Up:
    up = start(tmp_path, "microservice-horizontal", {
        "models": [model("logistic", models["logistic"], weight=2, dependency="Hard"),
                   model("tree", models["tree"], weight=1, dependency="Soft"),
                   model("forest", models["forest"], weight=1, dependency="Soft")],
        "aggregator": {"method": "vote", "minAnswers": 2},
    })  # fmt: skip
    stopping.append(up)
    return up


def weighted_vote(answers: dict[str, list[int]], weights: dict[str, float]) -> list[int]:
    winners = []
    for labels in zip(*answers.values(), strict=True):
        tally: dict[int, float] = {}
        for name, label in zip(answers, labels, strict=True):
            tally[label] = tally.get(label, 0) + weights[name]
        best = max(tally.values())
        winners.append(next(label for label in labels if tally[label] == best))  # the earliest model's
    return winners


def test_the_ensemble_answer_is_the_vote_of_each_models_own_answers(models: Models, ensemble: Up) -> None:
    rows = models.rows[::3]
    own = {}
    for name in ("logistic", "tree", "forest"):
        direct = httpx.post(f"{ensemble.named(f'{name}-predictor')['url']}/v1/models/iris:predict",
                            json={"instances": rows.tolist()}, timeout=60)  # fmt: skip
        own[name] = direct.json()["predictions"]
    assert len({tuple(p) for p in own.values()}) == 3, "the models should disagree somewhere"
    answer = post(ensemble, rows)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": weighted_vote(own, {"logistic": 2, "tree": 1, "forest": 1})}
    passed = helm_test("microservice-horizontal", URL=f"{ensemble.gateway}/v1/models/iris:predict")
    assert passed.returncode == 0, passed.stdout + passed.stderr


async def _traffic_while_killing(up: Up, pid: int, rows: list[list[float]], count: int) -> list[httpx.Response]:
    bodies = [({"instances": [rows[i % len(rows)]]}, {"x-request-id": f"kill-{pid}-{i}"}) for i in range(count)]
    traffic = asyncio.create_task(send(f"{up.gateway}/v1/models/iris:predict", bodies))
    await asyncio.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    return await traffic


def test_a_soft_model_killed_mid_traffic_fails_no_request_and_a_hard_one_fails_naming_itself(
    models: Models, ensemble: Up
) -> None:
    rows = models.rows[::10].tolist()
    soft = asyncio.run(_traffic_while_killing(ensemble, ensemble.named("tree-predictor")["pid"], rows, 600))
    assert {answer.status_code for answer in soft} == {200}
    left_out = [answer.json()["missing"]["tree"] for answer in soft if "missing" in answer.json()]
    assert left_out, "no request was answered while tree was down"
    assert all("tree" in reason for reason in left_out)
    assert "demo-microservice-horizontal-tree-predictor exited with" in ensemble.output()

    hard = asyncio.run(_traffic_while_killing(ensemble, ensemble.named("logistic-predictor")["pid"], rows, 600))
    failed = [answer for answer in hard if answer.status_code != 200]
    assert failed, "no request reached the gateway while logistic was down"
    assert {answer.status_code for answer in failed} <= {503, 504}
    for answer in failed:
        assert "ensemble step logistic" in answer.json()["error"], answer.text


def test_a_switch_on_a_body_field_routes_each_request_to_its_model(
    models: Models, tmp_path: Path, stopping: list[Up]
) -> None:
    up = start(tmp_path, "condition-based", {
        "routes": [model("eu", models["screen"], match={"headers": {"x-region": "eu"}}),
                   model("long-sepals", models["forest"], match={"body": "instances.#(0>6.5)"})],
        "default": {"model": {"uri": models["logistic"], "format": "sklearn"}},
    })  # fmt: skip
    stopping.append(up)
    long_rows = [row for row in models.rows if row[0] > 6.5][:5]
    short_rows = [row for row in models.rows if row[0] <= 6.5][:7]
    for row in [*long_rows, *short_rows]:
        answer = post(up, [row])
        assert answer.status_code == 200, answer.text
        assert "x-mlpatterns-role" not in answer.headers  # the graph's router passes no headers of its steps
    assert requests_of(up, "long-sepals-predictor") == len(long_rows)
    assert requests_of(up, "default-predictor") == len(short_rows)
    header = post(up, [long_rows[0]], **{"x-region": "eu"})  # the mesh's header route comes first
    assert header.headers["x-mlpatterns-role"] == "eu"
    assert requests_of(up, "long-sepals-predictor") == len(long_rows)


def test_a_splitter_shares_the_requests_by_weight(models: Models, tmp_path: Path, stopping: list[Up]) -> None:
    up = start(tmp_path, "online-ab", {
        "trafficRouter": "inferencegraph", "override": {"header": ""},
        "variants": [model("primary", models["logistic"], weight=70), model("canary", models["forest"], weight=30)],
    })  # fmt: skip
    stopping.append(up)
    bodies: list[tuple[dict[str, Any], dict[str, str]]] = [({"instances": [models.rows[0].tolist()]}, {})] * 1000
    answers = asyncio.run(send(f"{up.gateway}/v1/models/iris:predict", bodies))
    assert Counter(answer.status_code for answer in answers) == {200: 1000}
    canary = requests_of(up, "canary-predictor")
    assert requests_of(up, "primary-predictor") + canary == 1000
    assert within(int(canary), 1000, 0.3), canary
    targets = {name: f"{up.named(f'{name}-predictor')['url']}/v1/models/iris:predict" for name in ("primary", "canary")}
    passed = helm_test("online-ab", {"trafficRouter": "inferencegraph", "override": {"header": ""}},
                       URL=targets["primary"], TARGETS=json.dumps(targets))  # fmt: skip
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "variant canary answers, as canary" in passed.stdout
