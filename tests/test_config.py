import pytest

from multitrack.config import Config, config_from_dict, config_to_dict, load_config, save_config
from multitrack.errors import ConfigError


def test_overrides_are_parsed_and_typed():
    config = load_config(None, ["trainer.max_epochs=3", "optim.lr=1e-3", "data.fps=25"])
    assert config.trainer.max_epochs == 3
    assert config.optim.lr == pytest.approx(1e-3)
    assert config.data.fps == 25.0 and isinstance(config.data.fps, float)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.nope=1", "unknown key 'trainer.nope'"),
        ("nope.x=1", "unknown key 'nope'"),
        ("trainer.max_epochs=abc", "trainer.max_epochs: expected int"),
        ("data.split=[0.8, x]", r"data.split\[1\]: expected float"),
        ("trainer.max_epochs", "expected section.key=value"),
        ("optim.betas=[0.9]", r"optim.betas: expected two numbers in \[0, 1\)"),
        ("optim.betas=[0.9, 1.5]", r"optim.betas: expected two numbers in \[0, 1\)"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_yaml_file_errors_name_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  widht: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown key 'model.widht'"):
        load_config(path)


def test_saved_config_round_trips(tmp_path):
    config = load_config(None, ["model.n_layers=2", "trainer.devices=2"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
    assert config_from_dict(config_to_dict(config)) == config
    assert Config() == load_config(None)
