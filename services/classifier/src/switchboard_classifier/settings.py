"""The classifier's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import CommonSettings


class ClassifierSettings(CommonSettings):
    """Settings of the classifier service (`SWITCHBOARD_CLASSIFIER_*`)."""

    classifier_host: str = Field(
        "127.0.0.1", description="Address the health/metrics server binds."
    )
    classifier_port: int = Field(
        8002, description="Port of /healthz, /readyz and (unless on its own port) /metrics."
    )
    classifier_metrics_port: int | None = Field(
        None,
        description="Port of a separate /metrics listener on the same address as /healthz and /readyz; "
        "when set, the /healthz and /readyz port answers 404 for /metrics.",
    )
    classifier_metrics_token: MetricsToken | None = Field(
        None,
        description="Bearer token /metrics requires wherever it is served (at least 16 "
        "characters; Prometheus sends it as authorization credentials). Unset: no token.",
    )
    classifier_group_id: str = Field(
        "switchboard-classifier", description="Kafka consumer group (also the faust app id)."
    )
    classifier_batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most mentions classified per batch."
    )
    classifier_batch_wait_seconds: Annotated[float, Field(gt=0)] = Field(
        0.05, description="Longest wait to fill a batch before classifying what has come."
    )
    classifier_ruleset_path: Path | None = Field(
        None, description="YAML rule set to use instead of the shipped one."
    )
    classifier_model_path: Path | None = Field(
        None,
        description="Model directory instead of the shipped one (a promotions models directory's "
        "`live` link, for `switchboard promote` and `rollback`).",
    )
    classifier_shadow_model_path: Path | None = Field(
        None,
        description="Candidate model directory run in shadow beside the live model: classified "
        "on every batch, compared in metrics, never published. Unset: no shadow.",
    )
    classifier_use_model: bool = Field(True, description="False: classify by the rules alone.")
    classifier_gazetteer_path: Path | None = Field(
        None, description="Gazetteer YAML (streets, landmarks) instead of the demo city."
    )
    classifier_districts_path: Path | None = Field(
        None, description="District GeoJSON (polygons with a `name`) instead of the demo city."
    )
    classifier_reload_seconds: Annotated[float, Field(gt=0)] = Field(
        5.0, description="How often the stream checks the rule set and model files for changes."
    )
    classifier_data_dir: Path = Field(
        Path(".run/classifier-data"),
        description="Where faust keeps its local state (the stream keeps no tables, so it is small).",
    )
