"""Module and Parameter: registration, names, modes, gradients, dtype/device moves, state dicts, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import minigan
from minigan import nn


def generator():
    """The small DCGAN generator of the docs: (N, 100) noise -> (N, 1, 28, 28) images."""
    return nn.Sequential(
        nn.Linear(100, 128 * 7 * 7), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    )


def discriminator():
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
    )


# The keys torch.nn would give the same models (written out by hand from PyTorch's naming rules).
GENERATOR_KEYS = [
    "0.weight", "0.bias",
    "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked",
    "4.weight", "4.bias",
    "5.weight", "5.bias", "5.running_mean", "5.running_var", "5.num_batches_tracked",
    "7.weight", "7.bias",
]
DISCRIMINATOR_KEYS = [
    "0.weight", "2.weight", "3.weight", "3.bias", "3.running_mean", "3.running_var", "3.num_batches_tracked",
    "6.weight", "6.bias",
]


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return nn.functional.tanh(self.bn(self.conv(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3, padding=1)
        self.blocks = nn.Sequential(Block(2), Block(2))
        self.head = nn.Linear(2 * 4 * 4, 3)
        self.scale = nn.Parameter(minigan.ones(1))
        self.register_buffer("step", minigan.zeros(1))
        self.register_buffer("scratch", minigan.zeros(2), persistent=False)
        self.note = "plain attributes are not registered"

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.flatten(1)) * self.scale


# ---------------------------------------------------------------- Parameter

def test_parameter_is_a_leaf_that_requires_grad_and_shares_data():
    t = minigan.randn(3, 2)
    p = nn.Parameter(t)
    assert isinstance(p, minigan.Tensor) and p.requires_grad and p.is_leaf and p.grad is None
    assert p.data is t.data
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_parameter_made_from_a_computed_tensor_is_a_new_leaf():
    a = minigan.randn(2, requires_grad=True)
    p = nn.Parameter(a * 2)
    assert p.is_leaf and p.grad_fn is None


# ---------------------------------------------------------------- registration and names

def test_named_parameters_of_a_nested_model():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "scale", "stem.weight", "stem.bias",
        "blocks.0.conv.weight", "blocks.0.bn.weight", "blocks.0.bn.bias",
        "blocks.1.conv.weight", "blocks.1.bn.weight", "blocks.1.bn.bias",
        "head.weight", "head.bias",
    ]
    assert sum(p.numel() for p in net.parameters()) == 1 + (18 + 2) + 2 * (36 + 4) + (32 * 3 + 3)
    assert [name for name, _ in net.named_parameters(recurse=False)] == ["scale"]


def test_buffers_are_registered_but_are_not_parameters():
    net = Net()
    assert [name for name, _ in net.named_buffers()] == [
        "step", "scratch",
        "blocks.0.bn.running_mean", "blocks.0.bn.running_var", "blocks.0.bn.num_batches_tracked",
        "blocks.1.bn.running_mean", "blocks.1.bn.running_var", "blocks.1.bn.num_batches_tracked",
    ]
    assert all(not b.requires_grad for b in net.buffers())
    assert not any(b is p for b in net.buffers() for p in net.parameters())
    assert "note" not in dict(net.named_parameters()) and net.note.startswith("plain")


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["stem", "blocks", "head"]
    assert list(net.children())[1] is net.blocks
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "stem", "blocks", "blocks.0", "blocks.0.conv", "blocks.0.bn", "blocks.1", "blocks.1.conv", "blocks.1.bn", "head"]
    assert len(list(net.modules())) == len(names)


def test_attribute_access_reaches_the_registries():
    net = Net()
    assert net.stem is net._modules["stem"] and net.scale is net._parameters["scale"] and net.step is net._buffers["step"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing


def test_reassigning_and_deleting_keeps_registries_consistent():
    net = Net()
    net.head = nn.Linear(32, 5)
    assert net.head.out_features == 5 and list(dict(net.named_children())) == ["stem", "blocks", "head"]
    net.stem.bias = None
    assert "stem.bias" not in dict(net.named_parameters())
    del net.scale
    assert "scale" not in dict(net.named_parameters())
    net.step = minigan.ones(1)  # a Tensor assigned to a buffer's name replaces the buffer
    assert net.step.item() == 1.0 and "step" in net.state_dict()


def test_assigning_a_plain_tensor_to_a_parameter_name_is_an_error():
    layer = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign a Tensor as parameter 'weight' of Linear"):
        layer.weight = minigan.zeros(3, 2)


def test_assigning_before_init_explains_the_fix():
    class Forgetful(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Forgetful.__init__"):
        Forgetful()


def test_register_buffer_checks_name_and_type():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain no '.'"):
        m.register_buffer("a.b", minigan.zeros(1))
    with pytest.raises(TypeError, match="expected a Tensor or None, got ndarray"):
        m.register_buffer("a", np.zeros(1))


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as in PyTorch


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(minigan.zeros(1))


def test_forward_hooks_see_the_output_and_can_be_removed():
    layer, seen = nn.Linear(2, 3), []
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append((module, output.shape)))
    layer(minigan.zeros(4, 2))
    handle.remove()
    layer(minigan.zeros(4, 2))
    assert seen == [(layer, (4, 3))]


# ---------------------------------------------------------------- modes and gradients

def test_train_and_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.blocks.eval()
    assert net.training and not net.blocks[0].bn.training
    with pytest.raises(TypeError, match="True or False"):
        net.train("no")


def test_apply_visits_children_before_parents():
    net, order = Net(), []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Conv2d", "Conv2d", "BatchNorm2d", "Block", "Conv2d", "BatchNorm2d", "Block", "Sequential", "Linear", "Net"]


def test_zero_grad_sets_gradients_to_none_or_zero():
    net = Net()
    net(minigan.randn(2, 1, 4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_freezes_and_unfreezes():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    out = net(minigan.randn(2, 1, 4, 4))
    assert not out.requires_grad
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------- dtype and device

def test_double_keeps_parameter_identity_and_casts_buffers():
    net = Net()
    params, buffers = list(net.parameters()), list(net.buffers())
    net(minigan.randn(2, 1, 4, 4)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert [id(b) for b in net.buffers()] == [id(b) for b in buffers]
    assert all(p.dtype == "float64" and p.grad.dtype == "float64" for p in params)
    assert net.blocks[0].bn.running_var.dtype == "float64"
    assert net.blocks[0].bn.num_batches_tracked.dtype == "int64"  # counters stay integers, as in PyTorch
    out = net(minigan.randn(2, 1, 4, 4, dtype="float64"))
    assert out.dtype == "float64"
    net.float()
    assert all(p.dtype == "float32" for p in params)
    assert net.to("float64") is net and params[0].dtype == "float64"
    assert net.to(dtype=np.float32) is net and params[0].dtype == "float32"


def test_a_step_on_parameters_collected_before_double_reaches_the_model():
    layer = nn.Linear(2, 1)
    params = list(layer.parameters())  # what an optimizer keeps
    layer.double()
    for p in params:
        p.data = p.data * 0.0
    assert not layer.weight.numpy().any() and layer.weight.dtype == "float64"


def test_to_rejects_integer_dtypes():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2).to("int64")


def test_to_device_moves_parameters_and_buffers_in_place(device):
    other = "strict" if device == "cpu" else "cpu"
    bn = nn.BatchNorm1d(3)
    weight = bn.weight
    bn.to(other)
    assert bn.weight is weight and weight.device == other and bn.running_mean.device == other
    assert bn.num_batches_tracked.device == other
    bn.to(device)
    assert weight.device == device and bn(minigan.randn(4, 3)).device == device


def test_parameters_are_created_on_the_default_device_as_float32(device):
    layer = nn.Conv2d(1, 2, 3)
    assert layer.weight.device == device and layer.weight.dtype == "float32"
    layer = nn.Linear(2, 3, device="cpu", dtype="float64")
    assert layer.weight.device == "cpu" and layer.bias.dtype == "float64"
    bn = nn.BatchNorm2d(2, dtype=minigan.float64)
    assert bn.running_mean.dtype == "float64" and bn.num_batches_tracked.dtype == "int64"


# ---------------------------------------------------------------- state dicts

def test_state_dict_keys_are_pytorchs():
    assert list(generator().state_dict()) == GENERATOR_KEYS
    assert list(discriminator().state_dict()) == DISCRIMINATOR_KEYS
    assert list(Net().state_dict()) == [
        "scale", "step", "stem.weight", "stem.bias",
        "blocks.0.conv.weight", "blocks.0.bn.weight", "blocks.0.bn.bias", "blocks.0.bn.running_mean",
        "blocks.0.bn.running_var", "blocks.0.bn.num_batches_tracked",
        "blocks.1.conv.weight", "blocks.1.bn.weight", "blocks.1.bn.bias", "blocks.1.bn.running_mean",
        "blocks.1.bn.running_var", "blocks.1.bn.num_batches_tracked",
        "head.weight", "head.bias",
    ]  # "scratch" is not persistent


def test_state_dict_values_are_detached_tensors():
    model = generator()
    state = model.state_dict()
    assert isinstance(state, OrderedDict)
    assert all(isinstance(v, minigan.Tensor) and not isinstance(v, nn.Parameter) and not v.requires_grad for v in state.values())
    assert state["2.num_batches_tracked"].dtype == "int64" and state["2.num_batches_tracked"].shape == ()
    assert state["4.weight"].shape == (128, 64, 4, 4)
    assert model.state_dict(keep_vars=True)["0.weight"] is model[0].weight


def test_load_state_dict_copies_values_into_the_same_tensors():
    source, target = discriminator(), discriminator()
    weight = target[0].weight
    arrays = {k: v.numpy() for k, v in source.state_dict().items()}
    arrays["3.running_mean"] = np.arange(128, dtype=np.float64)  # other dtypes are converted
    result = target.load_state_dict(arrays)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target[0].weight is weight and weight.dtype == "float32"
    np.testing.assert_array_equal(weight.numpy(), source[0].weight.numpy())
    assert target[3].running_mean.dtype == "float32" and target[3].running_mean.numpy()[5] == 5
    arrays["0.weight"][...] = 7.0  # the model holds a copy, never the caller's array
    assert not (weight.numpy() == 7.0).any()


def test_load_state_dict_explains_what_it_expects():
    with pytest.raises(TypeError, match=r"use model.load_state_dict\(nn.load\('g.npz'\)\)"):
        nn.Linear(2, 2).load_state_dict("g.npz")
    with pytest.raises(TypeError, match="another model's .state_dict\\(\\), or nn.load\\(path\\)\\), got Linear"):
        nn.Linear(2, 2).load_state_dict(nn.Linear(2, 2))


def test_empty_parameter_is_float32():
    assert nn.Parameter().dtype == "float32" and nn.Parameter().shape == (0,)


def test_load_state_dict_accepts_tensors_from_another_model():
    a, b = generator(), generator()
    b.load_state_dict(a.state_dict())
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)


def test_strict_load_lists_every_problem_and_changes_nothing():
    model = discriminator()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = {k: v.numpy() for k, v in discriminator().state_dict().items()}
    del state["3.running_var"], state["6.bias"]
    state["7.weight"] = np.zeros(3)
    state["0.weight"] = np.zeros((64, 3, 4, 4))
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert "missing keys (in the model, not in the state dict): '3.running_var', '6.bias'" in message
    assert "unexpected keys (in the state dict, not in the model): '7.weight'" in message
    assert "'0.weight': the model expects shape (64, 1, 4, 4), the state dict has (64, 3, 4, 4)" in message
    assert "strict=False" in message
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_non_strict_load_skips_missing_and_unexpected_keys():
    model, source = discriminator(), discriminator()
    state = source.state_dict()
    del state["6.bias"]
    state["extra"] = minigan.zeros(2)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["6.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[6].weight.numpy(), source[6].weight.numpy())
    assert not np.array_equal(model[6].bias.numpy(), source[6].bias.numpy())


def test_shape_mismatch_is_an_error_even_when_not_strict():
    with pytest.raises(RuntimeError, match=r"'weight': the model expects shape \(3, 2\), the state dict has \(2, 3\)"):
        nn.Linear(2, 3).load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(3)}, strict=False)


def test_load_state_dict_moves_values_to_the_modules_device_and_dtype(device):
    layer = nn.Linear(2, 3).double()
    source = nn.Linear(2, 3, device="cpu")
    layer.load_state_dict(source.state_dict())
    assert layer.weight.device == device and layer.weight.dtype == "float64"
    np.testing.assert_allclose(layer.weight.numpy(), source.weight.numpy())


def test_deepcopy_gives_an_independent_model():
    model = generator()
    clone = copy.deepcopy(model)
    clone[0].weight.data = clone[0].weight.data * 0.0
    assert model[0].weight.numpy().any()
    assert list(clone.state_dict()) == GENERATOR_KEYS


# ---------------------------------------------------------------- repr

def test_layer_reprs_match_pytorch():
    assert repr(nn.Conv2d(1, 64, 4, 2, 1, bias=False)) == "Conv2d(1, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)"
    assert repr(nn.Conv2d(3, 8, (3, 5), dilation=2)) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(1, 1), dilation=(2, 2))"
    assert repr(nn.ConvTranspose2d(8, 4, 3, 2, 1, output_padding=1)) == (
        "ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))"
    )
    assert repr(nn.Linear(100, 784)) == "Linear(in_features=100, out_features=784, bias=True)"
    assert repr(nn.BatchNorm2d(64)) == "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.BatchNorm1d(8, momentum=None, affine=False)) == (
        "BatchNorm1d(8, eps=1e-05, momentum=None, affine=False, track_running_stats=True)"
    )
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.Tanh()) == "Tanh()" and repr(nn.Sigmoid()) == "Sigmoid()"
    assert repr(nn.Dropout(0.3)) == "Dropout(p=0.3, inplace=False)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (128, 7, 7))) == "Unflatten(dim=1, unflattened_size=(128, 7, 7))"


def test_nested_repr_is_indented():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1, bias=False)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=1, bias=False)\n"
        "  )\n"
        ")"
    )
    text = repr(Net())
    assert text.startswith("Net(\n  (stem): Conv2d(1, 2, kernel_size=(3, 3)")
    assert "\n  (blocks): Sequential(\n    (0): Block(\n      (conv): Conv2d(2, 2," in text


# ---------------------------------------------------------------- Sequential

def test_sequential_indexing_iteration_and_append():
    layers = [nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert list(dict(head.named_children())) == ["1", "2"]  # slices keep names, as in PyTorch
    with pytest.raises(IndexError, match="out of range for 3 layers"):
        model[3]
    tanh = nn.Tanh()
    assert model.append(tanh) is model and model[3] is tanh and list(model.state_dict())[-1] == "2.bias"
    model[1] = nn.LeakyReLU(0.2)
    assert isinstance(model[1], nn.LeakyReLU)
    out = model(minigan.randn(5, 4))
    assert out.shape == (5, 2) and float(out.abs().amax().item()) < 1.0


def test_sequential_runs_layers_in_order():
    model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid())
    x = minigan.randn(4, 3)
    expected = 1 / (1 + np.exp(-(x.numpy() @ model[0].weight.numpy().T + model[0].bias.numpy())))
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5)


def test_sequential_from_ordered_dict_and_type_errors():
    model = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="argument 1 is a function, not a Module"):
        nn.Sequential(nn.Linear(2, 2), minigan.exp)


def test_replacing_a_parameter_keeps_its_place_in_the_state_dict():
    layer = nn.Linear(2, 3)
    layer.weight = nn.Parameter(minigan.zeros(3, 2))
    assert list(layer.state_dict()) == ["weight", "bias"]
