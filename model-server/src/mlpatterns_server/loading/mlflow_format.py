"""MLflow models (a directory with an MLmodel file), loaded as pyfunc; the signature gives the
inputs and outputs the server advertises and checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mlpatterns_server.errors import InvalidInput
from mlpatterns_server.loading.loaded import LoadedModel, Tensors
from mlpatterns_server.protocol.tensors import TensorSpec, datatype_of

DEFAULT_OUTPUT = "predict"


def _column_datatype(column_type: Any) -> str:
    to_numpy = getattr(column_type, "to_numpy", None)
    return datatype_of(np.dtype(to_numpy())) if to_numpy else "BYTES"


def _specs(schema: Any, default_name: str) -> tuple[list[TensorSpec], bool]:
    """Tensor specs for a signature schema, and whether the model takes named columns (a DataFrame)."""
    if schema is None:
        return [TensorSpec(default_name, "FP64", (-1, -1))], False
    if schema.is_tensor_spec():
        specs = [
            TensorSpec(
                item.name or (default_name if len(schema.inputs) == 1 else f"{default_name}-{i}"),
                datatype_of(item.type),
                tuple(item.shape),
            )
            for i, item in enumerate(schema.inputs)
        ]
        return specs, False
    if not schema.has_input_names():
        types = {_column_datatype(column.type) for column in schema.inputs}
        datatype = types.pop() if len(types) == 1 else "BYTES"
        return [TensorSpec(default_name, datatype, (-1, len(schema.inputs)))], False
    return [TensorSpec(column.name, _column_datatype(column.type), (-1,)) for column in schema.inputs], True


class MlflowModel(LoadedModel):
    format: ClassVar[str] = "mlflow"

    def __init__(self, model: Any, source: Path) -> None:
        self.model = model
        metadata = model.metadata
        inputs, self._columns = _specs(metadata.get_input_schema(), "input-0")
        output_schema = metadata.get_output_schema()
        # Without an output signature the datatype is unknown; FP64 is the common case.
        outputs = (
            _specs(output_schema, DEFAULT_OUTPUT)[0]
            if output_schema is not None
            else [TensorSpec(DEFAULT_OUTPUT, "FP64", (-1,))]
        )
        self._flavor = metadata.flavors.get("python_function", {}).get("loader_module", "pyfunc")
        super().__init__(source, inputs, outputs)

    def predict(self, inputs: Tensors, outputs: Sequence[str]) -> Tensors:
        from mlflow.exceptions import MlflowException

        data: Any
        if self._columns:
            import pandas as pd

            data = pd.DataFrame({spec.name: inputs[spec.name] for spec in self.inputs})
        elif len(self.inputs) == 1:
            data = inputs[self.inputs[0].name]
        else:
            data = dict(inputs)
        try:
            result = self.model.predict(data)
        except MlflowException as exc:
            # Schema enforcement: the client's data does not fit the signature.
            raise InvalidInput(f"the model's signature refuses the input: {exc.message}") from None
        produced = self._name_outputs(result)
        return {name: produced[name] for name in outputs}

    def _name_outputs(self, result: Any) -> Tensors:
        import pandas as pd

        names = [spec.name for spec in self.outputs]
        if isinstance(result, pd.DataFrame):
            if all(name in result.columns for name in names):
                return {name: result[name].to_numpy() for name in names}
            result = result.iloc[:, 0] if result.shape[1] == 1 else result.to_numpy()
        if isinstance(result, pd.Series):
            result = result.to_numpy()
        if isinstance(result, dict):
            return {name: np.asarray(value) for name, value in result.items()}
        return {names[0]: np.asarray(result)}

    def describe(self) -> str:
        return f"mlflow model ({self._flavor}) from {self.source}"


def load(path: Path, trusted_types: Sequence[str] = ()) -> MlflowModel:
    """The format table's entry point (`trusted_types` concerns .skops files only)."""
    import mlflow.pyfunc

    return MlflowModel(mlflow.pyfunc.load_model(str(path)), path)
