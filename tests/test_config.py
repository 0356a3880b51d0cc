"""Config: defaults, YAML, environment and --set precedence; typos and bad values are errors naming the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from partner_churn.config import Config, load_config, render_yaml
from partner_churn.errors import ConfigError
from tests.conftest import REPO


def test_default_yaml_is_the_rendered_defaults() -> None:
    assert (REPO / "configs" / "default.yaml").read_text() == render_yaml(Config())


def test_default_yaml_loads_to_the_defaults() -> None:
    assert load_config(REPO / "configs" / "default.yaml", env={}) == Config()


def test_yaml_file_overrides_defaults_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("labels:\n  horizon_days: 45\nsegments:\n  star_min_tenure_days: 200\n")
    config = load_config(path, env={})
    assert config.labels.horizon_days == 45
    assert config.segments.star_min_tenure_days == 200
    assert config.labels.active_window_days == Config().labels.active_window_days


def test_environment_overrides_file_and_set_overrides_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("labels:\n  horizon_days: 45\n")
    env = {"PARTNER_CHURN__LABELS__HORIZON_DAYS": "60", "MLFLOW_TRACKING_URI": "http://tracking:5000"}
    assert load_config(path, env=env).labels.horizon_days == 60
    assert load_config(path, env=env).paths.mlflow_tracking_uri == "http://tracking:5000"
    assert load_config(path, env=env, overrides=["labels.horizon_days=90"]).labels.horizon_days == 90


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("serving:\n  port: 3100\n")
    assert load_config(env={"PARTNER_CHURN_CONFIG": str(path)}).serving.port == 3100


def test_typo_in_yaml_names_the_key_and_the_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("labels:\n  horizn_days: 45\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*unknown key 'labels\.horizn_days'.*horizon_days"):
        load_config(path, env={})


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("labelz:\n  horizon_days: 45\n")
    with pytest.raises(ConfigError, match="unknown key 'labelz'"):
        load_config(path, env={})


def test_bad_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("labels:\n  horizon_days: -3\n")
    with pytest.raises(ConfigError, match="'labels.horizon_days'.*greater than or equal to 1"):
        load_config(path, env={})


def test_qualifying_types_must_be_known_event_types() -> None:
    with pytest.raises(ConfigError, match="qualifying_event_types.*teleport"):
        load_config(env={}, overrides=["labels.qualifying_event_types=[login, teleport]"])


def test_bad_env_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="PARTNER_CHURN__SERVING__PORTT.*unknown key 'serving.portt'"):
        load_config(env={"PARTNER_CHURN__SERVING__PORTT": "1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [("labels: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "expected a mapping")],
)
def test_unreadable_yaml_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_every_field_is_documented() -> None:
    def undocumented(model: type, prefix: str = "") -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += undocumented(annotation, f"{prefix}{name}.")
        return missing

    assert undocumented(Config) == []


@pytest.mark.parametrize("key", ["features.windows_days=[-10,30,90]", "features.revenue_share_windows_days=[0,90]"])
def test_a_window_of_no_days_or_fewer_is_refused(key: str) -> None:
    """A negative window would sum events after the cutoff into a feature (a leak); it is named, not computed."""
    name = key.split("=")[0]
    with pytest.raises(ConfigError, match=rf"'{re.escape(name)}\.0'.*greater than or equal to 1"):
        load_config(env={}, overrides=[key])


def test_segment_revenue_window_must_be_a_feature_window() -> None:
    with pytest.raises(ConfigError, match="revenue_window_days"):
        load_config(env={}, overrides=["segments.revenue_window_days=60"])


def test_anchored_makes_every_path_absolute_against_a_folder(tmp_path: Path) -> None:
    from partner_churn.config import anchored

    config = load_config(env={}, overrides=["paths.mlflow_tracking_uri=sqlite:///rel/mlflow.db", "scoring.actions_file=my/actions.yaml"])
    fixed = anchored(config, tmp_path)
    assert fixed.paths.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/rel/mlflow.db"
    assert fixed.paths.output_dir == (tmp_path / "work" / "scores").resolve()
    assert fixed.scoring.actions_file == tmp_path / "my" / "actions.yaml"
    absolute = load_config(env={}, overrides=["paths.mlflow_tracking_uri=sqlite:////srv/mlflow.db", "paths.data_dir=/srv/data"])
    assert anchored(absolute, tmp_path).paths.mlflow_tracking_uri == "sqlite:////srv/mlflow.db"
    assert anchored(absolute, tmp_path).paths.data_dir == Path("/srv/data")
    server = load_config(env={}, overrides=["paths.mlflow_tracking_uri=http://mlflow:5000"])
    assert anchored(server, tmp_path).paths.mlflow_tracking_uri == "http://mlflow:5000"


def test_version_pins_are_read_at_load_in_every_form() -> None:
    from partner_churn.config import parse_version_pins

    assert load_config(env={}, overrides=["serving.model_version=2"]).serving.model_version == "2"
    assert load_config(env={"PARTNER_CHURN__SERVING__MODEL_VERSION": "risk=3,potential=v2"}).serving.model_version == "risk=3,potential=v2"
    assert parse_version_pins("risk=3,potential=v2") == {"deactivation_risk": "3", "upgrade_potential": "2"}
    assert parse_version_pins(["2"]) == {"deactivation_risk": "2", "upgrade_potential": "2"}
    assert parse_version_pins(["potential=4"]) == {"upgrade_potential": "4"}
    with pytest.raises(ConfigError, match="expected risk=N, potential=N or N"):
        load_config(env={}, overrides=["serving.model_version=risk=abc"])
    with pytest.raises(ConfigError, match="unknown target 'churn'"):
        load_config(env={}, overrides=["serving.model_version=churn=3"])
