"""Settings of `mlpatterns-server aggregate`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from mlpatterns_server.settings import HttpSettings


class AggregatorSettings(HttpSettings):
    model_config = SettingsConfigDict(protected_namespaces=(), cli_prog_name="mlpatterns-server aggregate")

    model_name: str = Field("model", min_length=1, description="Name on the endpoint path: /v1/models/<name>:predict.")
    model_version: str = Field("", description="Version label on metrics (default: the method).")
    role: str = Field("aggregator", pattern=r"^[a-z0-9][a-z0-9-]*$", description="Role label on metrics.")
    method: Literal["vote", "mean", "weighted-mean", "all"] = Field(
        "vote",
        description="vote: the label most steps answered, per row (weighted by --weights; a tie goes to the earliest "
        "step); mean and weighted-mean: the numbers' element-wise mean; all: every step's answer side by side.",
    )
    steps: list[str] = Field(
        default_factory=list,
        description="The ensemble's step names in order (ties go to the earliest); empty: whatever the body holds.",
    )
    weights: dict[str, float] = Field(
        default_factory=dict, description='Each step\'s weight, e.g. {"a": 0.7, "b": 0.3} (vote, weighted-mean).'
    )
    min_answers: int = Field(
        1, ge=1, description="Fewest steps that must have answered; fewer is a 502 naming the failed steps."
    )

    @model_validator(mode="after")
    def _check(self) -> AggregatorSettings:
        negative = [name for name, weight in self.weights.items() if weight < 0]
        if negative:
            raise ValueError(f"--weights: the weight of {negative[0]} is negative")
        if self.steps:
            unknown = [name for name in self.weights if name not in self.steps]
            if unknown:
                raise ValueError(f"--weights names {unknown[0]}, which is not one of --steps ({', '.join(self.steps)})")
            if self.min_answers > len(self.steps):
                raise ValueError(f"--min_answers {self.min_answers} is more than the {len(self.steps)} steps")
        if self.method == "weighted-mean":
            unweighted = [name for name in self.steps if name not in self.weights]
            if not self.weights or unweighted:
                raise ValueError(
                    "--method weighted-mean needs a weight for every step (--weights)"
                    + (f"; {unweighted[0]} has none" if unweighted else "")
                )
            if sum(self.weights.values()) <= 0:
                raise ValueError("--weights: the weights sum to 0")
        return self
