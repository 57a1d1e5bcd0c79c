"""Run configurations: DEFAULTS, the presets, resolve/merge/dumps, and the errors for typos.

Every preset must resolve, and ``dumps`` of the resolved config, written as a TOML
file and resolved again with ``config_file=``, must give back the same dict: that
file is what a run directory keeps as ``config.toml`` and what ``--resume`` reads.
"""

import copy

import pytest

from minigan.config import DEFAULTS, ConfigError, dumps, load_toml, merge, presets, resolve

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PRESETS = ["ring", "grid", "mnist-mlp", "mnist-dcgan", "mnist-wgan-gp", "fashion-dcgan"]


def test_the_presets_are_listed():
    assert set(PRESETS) <= set(presets())
    assert presets() == sorted(presets())


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_resolves_with_every_key_of_the_right_type(name):
    config = resolve(name)
    assert config["preset"] == name
    for section, values in DEFAULTS.items():
        assert set(config[section]) == set(values), section
        for key, default in values.items():
            assert type(config[section][key]) is type(default), f"{section}.{key}"


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_round_trips_through_a_toml_file(name, tmp_path):
    config = resolve(name)
    text = dumps(config)
    assert tomllib.loads(text)  # valid TOML
    path = tmp_path / "config.toml"
    path.write_text(text)
    again = resolve(config_file=path)
    assert again == config
    assert dumps(again) == text


def test_presets_set_what_their_files_say():
    assert resolve("ring")["data"]["dataset"] == "ring"
    assert resolve("grid")["data"]["dataset"] == "grid"
    wgan = resolve("mnist-wgan-gp")
    assert wgan["model"]["architecture"] == "dcgan-critic"
    assert (wgan["loss"]["name"], wgan["loss"]["penalty"], wgan["optim"]["n_critic"]) == ("wasserstein", "gp", 5)
    assert wgan["optim"]["beta2"] == 0.9
    assert resolve("mnist-dcgan")["model"]["init"] == "dcgan"
    assert resolve("fashion-dcgan")["data"]["dataset"] == "fashion-mnist"
    assert resolve("mnist-mlp")["model"]["architecture"] == "image-mlp"


def test_resolve_without_a_preset_is_ring_and_leaves_defaults_alone():
    before = copy.deepcopy(DEFAULTS)
    config = resolve()
    assert config["preset"] == "ring"
    config["train"]["steps"] = 12345
    assert DEFAULTS == before


def test_round_trip_keeps_awkward_values(tmp_path):
    config = resolve("ring", overrides={"data.data_dir": 'C:\\data\\"mnist"', "optim.lr_g": 1e-12, "train.progress": False})
    path = tmp_path / "c.toml"
    path.write_text(dumps(config))
    again = resolve(config_file=path)
    assert again["data"]["data_dir"] == 'C:\\data\\"mnist"'
    assert again["optim"]["lr_g"] == 1e-12 and again["train"]["progress"] is False
    assert again == config


def test_a_config_file_is_applied_over_the_defaults(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[model]\nhidden = 32\n\n[optim]\nlr_d = 0.01\n')
    config = resolve(config_file=path)
    assert config["model"]["hidden"] == 32 and config["optim"]["lr_d"] == 0.01
    assert config["model"]["layers"] == DEFAULTS["model"]["layers"]
    assert "preset" not in config


# ---------------------------------------------------------------- overrides

def test_overrides_coerce_strings_to_the_defaults_type():
    config = resolve("ring", overrides={
        "train.steps": "50", "optim.lr_g": "1e-3", "train.progress": "false", "train.seed": "7",
        "loss.name": "hinge", "optim.n_critic": "2.0", "train.eval_samples": "1e3", "data.download": "yes",
    })
    assert config["train"]["steps"] == 50 and type(config["train"]["steps"]) is int
    assert config["optim"]["lr_g"] == 1e-3 and type(config["optim"]["lr_g"]) is float
    assert config["train"]["progress"] is False and config["data"]["download"] is True
    assert config["train"]["seed"] == 7 and config["optim"]["n_critic"] == 2
    assert config["train"]["eval_samples"] == 1000
    assert config["loss"]["name"] == "hinge"


@pytest.mark.parametrize("text, value", [("true", True), ("False", False), ("1", True), ("0", False), ("no", False)])
def test_boolean_spellings(text, value):
    assert resolve("ring", overrides={"train.progress": text})["train"]["progress"] is value


def test_an_int_is_accepted_where_a_float_is_expected():
    config = resolve("ring", overrides={"optim.lr_g": 1})
    assert config["optim"]["lr_g"] == 1.0 and type(config["optim"]["lr_g"]) is float


def test_overrides_win_over_the_preset():
    assert resolve("grid", overrides={"train.steps": 5})["train"]["steps"] == 5


# ---------------------------------------------------------------- errors name the key

def test_unknown_preset_names_it_and_the_choices():
    with pytest.raises(ConfigError) as info:
        resolve("rnig")
    assert "'rnig'" in str(info.value)
    for name in PRESETS:
        assert name in str(info.value)


def test_unknown_section_is_named():
    with pytest.raises(ConfigError, match=r"\[trian\]"):
        resolve("ring", overrides={"trian.steps": 3})


def test_unknown_key_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"train\.stpes") as info:
        resolve("ring", overrides={"train.stpes": 3})
    assert "steps" in str(info.value).split("are", 1)[1]


def test_unknown_key_in_a_config_file_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[optim]\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError) as info:
        resolve(config_file=path)
    assert "optim.learning_rate" in str(info.value) and str(path) in str(info.value)


def test_unknown_top_level_entry_in_a_config_file(tmp_path):
    path = tmp_path / "top.toml"
    path.write_text("steps = 3\n")
    with pytest.raises(ConfigError, match="steps"):
        resolve(config_file=path)


@pytest.mark.parametrize("key, value", [
    ("train.steps", "many"),
    ("train.steps", "2.5"),
    ("train.steps", 2.5),
    ("train.steps", True),
    ("optim.lr_g", "fast"),
    ("optim.lr_g", [0.1]),
    ("train.progress", "maybe"),
    ("train.progress", 2),
])
def test_wrong_types_name_the_key(key, value):
    with pytest.raises(ConfigError) as info:
        resolve("ring", overrides={key: value})
    assert key in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("section, key, toml_value", [
    ("optim", "lr_g", "true"),        # a bool is not a learning rate (it must not become 1.0)
    ("loss", "name", "3"),            # a number is not a loss name (it must not become '3')
    ("data", "dataset", '["ring"]'),  # nor is a list (it must not become "['ring']")
])
def test_wrong_types_from_a_toml_file_are_refused_too(section, key, toml_value, tmp_path):
    path = tmp_path / "wrong.toml"
    path.write_text(f"[{section}]\n{key} = {toml_value}\n")
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        resolve(config_file=path)


def test_wrong_type_in_a_config_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[train]\nbatch_size = "big"\n')
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        resolve(config_file=path)


def test_missing_and_invalid_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        resolve(config_file=bad)
    assert str(bad) in str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_merge_names_its_source():
    config = copy.deepcopy(DEFAULTS)
    with pytest.raises(ConfigError, match="my source"):
        merge(config, {"model": {"hiden": 3}}, "my source")
    merge(config, {"model": {"hidden": "7"}}, "my source")
    assert config["model"]["hidden"] == 7


def test_dumps_writes_every_section_in_order():
    text = dumps(resolve("grid"))
    positions = [text.index(f"[{section}]") for section in DEFAULTS]
    assert positions == sorted(positions)
    assert text.startswith('preset = "grid"')
    parsed = tomllib.loads(text)
    assert parsed["train"]["steps"] == 6000 and parsed["model"]["latent_dim"] == 16
