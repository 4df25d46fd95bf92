"""The classifier's settings, read once by its entrypoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from switchboard_shared import settings as shared
from switchboard_shared.metrics_server import MetricsToken
from switchboard_shared.settings import CommonSettings


class ClassifierSettings(CommonSettings):
    """Settings of the classifier service (`SWITCHBOARD_CLASSIFIER_*`)."""

    classifier_host: str = shared.listen_host("the health/metrics server")
    classifier_port: int = Field(
        8002, description="Port of /healthz, /readyz and (unless on its own port) /metrics."
    )
    classifier_metrics_port: int | None = shared.metrics_port("/healthz and /readyz")
    classifier_metrics_token: MetricsToken | None = shared.metrics_token()
    classifier_group_id: str = Field(
        "switchboard-classifier", description="Kafka consumer group (also the faust app id)."
    )
    classifier_batch_size: Annotated[int, Field(ge=1, le=10_000)] = Field(
        500, description="Most mentions classified per batch."
    )
    classifier_batch_wait_seconds: float = shared.positive(
        0.05, "Longest wait to fill a batch before classifying what has come."
    )
    classifier_ruleset_path: Path | None = shared.unset(
        "YAML rule set to use instead of the shipped one."
    )
    classifier_model_path: Path | None = shared.unset(
        "Model directory instead of the shipped one (a promotions models directory's "
        "`live` link, for `switchboard promote` and `rollback`)."
    )
    classifier_shadow_model_path: Path | None = shared.unset(
        "Candidate model directory run in shadow beside the live model: classified "
        "on every batch, compared in metrics, never published. Unset: no shadow."
    )
    classifier_use_model: bool = Field(True, description="False: classify by the rules alone.")
    classifier_gazetteer_path: Path | None = shared.unset(
        "Gazetteer YAML (streets, landmarks) instead of the demo city."
    )
    classifier_districts_path: Path | None = shared.unset(
        "District GeoJSON (polygons with a `name`) instead of the demo city."
    )
    classifier_reload_seconds: float = shared.positive(
        5.0, "How often the stream checks the rule set and model files for changes."
    )
    classifier_data_dir: Path = Field(
        Path(".run/classifier-data"),
        description="Where faust keeps its local state (the stream keeps no tables, so it is small).",
    )
