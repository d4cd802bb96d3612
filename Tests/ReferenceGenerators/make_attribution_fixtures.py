"""Writes the attribution fixtures of issue 17: Grad-CAM, guided Grad-CAM and occlusion.

Cases (Tests/Fixtures/attribution/<case>/): two small torch classifiers with random weights, built
only from modules Captum's rules know (nn.ReLU, nn.MaxPool2d, nn.BatchNorm2d in eval mode), exported
to ONNX (opset 17, TorchScript exporter, BN folded into the convolutions):
  cnn     conv/BN/ReLU/max-pool stacks, global average pooling, a Linear (10 classes), 40x40 input;
  resnet  a stem and two residual blocks (one strided with a 1x1 projection), 48x48 input.
For each case expected.json lists the checks; every array is float32 NumPy:
  gradcam_<k>.npy         Captum LayerGradCam(model, layer).attribute(x, target, relu_attributions)
                          squeezed to [h, w], for a class target (the logit) or a unit target (a
                          wrapper whose output is the seeded layer, flattened);
  guided_gradcam_<k>.npy  Captum GuidedGradCam(model, layer).attribute(x, target,
                          interpolate_mode="bilinear" or "nearest"), [1, C, H, W];
  occlusion_<k>.npy       Captum Occlusion(f).attribute(x, sliding_window_shapes=(C, k, k),
                          strides=(C, s, s), baselines=0, target), [1, C, H, W], where f is the
                          softmax of the logits (class targets) or the seeded layer's channel sum or
                          unit (unit targets);
  zf_<k>.npz-like files   occlusion_<k>_probability.npy / _top.npy / _unit.npy: Zeiler & Fergus's
                          maps over the window positions Captum uses (row i at i*s, the last window
                          cut at the border): the target's value, the top class (as float) and the
                          chosen unit's value with the window there.
All references are computed in float64 (model.double()); the script checks that a float32 run agrees
(relative L2 <= 1e-5).
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/make_attribution_fixtures.py
"""
import json
import math
import os
import shutil
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
from captum.attr import GuidedGradCam, LayerGradCam, Occlusion

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "Tests", "Fixtures", "attribution")
import captum
VERSIONS = f"captum {captum.__version__}, torch {torch.__version__.split('+')[0]}, onnx {onnx.__version__}"

torch.set_num_threads(1)
warnings.filterwarnings("ignore")


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def randomize_bn(m, g):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            n = mod.num_features
            mod.weight.data = 0.5 + torch.rand(n, generator=g)
            mod.bias.data = 0.2 * torch.randn(n, generator=g)
            mod.running_mean.data = 0.2 * torch.randn(n, generator=g)
            mod.running_var.data = 0.5 + torch.rand(n, generator=g)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, stride=2), nn.ReLU(),
            nn.Conv2d(16, 24, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 12, 5, 2, 2, bias=False), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.layer1 = Block(12, 12, 1)
        self.layer2 = Block(12, 20, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer2(self.layer1(self.stem(x)))), 1))


class LayerOutput(nn.Module):
    """The seeded layer's output of `model` (forward hook), as [N, C*H*W] or the channel sum [N, 1]."""
    def __init__(self, model, layer, channel=None):
        super().__init__()
        self.model, self.layer, self.channel = model, layer, channel

    def forward(self, x):
        got = {}
        h = self.layer.register_forward_hook(lambda m, i, o: got.update(o=o))
        self.model(x)
        h.remove()
        o = got["o"]
        if self.channel is not None:
            return o[:, self.channel].sum(dim=(1, 2)).unsqueeze(1)
        return o.flatten(1)


def onnx_names(model_path):
    m = onnx.load(model_path)
    return {n.output[0]: n.name for n in m.graph.node}, m


def export(model, shape, path):
    x = torch.zeros(shape)
    torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamo=False, do_constant_folding=True)


def layer_name_of(model, module, x, path):
    """The ONNX node name producing `module`'s output: matched by value against ONNX Runtime."""
    import onnxruntime as ort
    m = onnx.load(path)
    names = [o for n in m.graph.node for o in n.output]
    m.graph.output.extend([onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in names])
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    vals = s.run(None, {"input": x.numpy()})
    got = {}
    h = module.register_forward_hook(lambda mm, i, o: got.update(o=o.detach().numpy()))
    with torch.no_grad():
        model(x)
    h.remove()
    want = got["o"]
    node_by_out = {o: n.name for n in m.graph.node for o in n.output}
    best = None
    for name, v in zip(["logits"] + names, vals):
        if v.shape == want.shape and rel_l2(v, want) < 1e-5:
            best = name
    assert best is not None, "no ONNX tensor matches the module output"
    return node_by_out[best]


def positions(size, window, stride):
    count = math.ceil((size - window) / stride) + 1
    return [i * stride for i in range(count)]


def zf_maps(model, x, window, stride, score, unit):
    """Z&F's occlusion maps: for each window position, score(x_occluded), top class and unit value."""
    _, c, h, w = x.shape
    ys, xs = positions(h, window, stride), positions(w, window, stride)
    prob = np.zeros((len(ys), len(xs)))
    top = np.zeros((len(ys), len(xs)))
    unit_map = np.zeros((len(ys), len(xs)))
    with torch.no_grad():
        for i, y0 in enumerate(ys):
            for j, x0 in enumerate(xs):
                xo = x.clone()
                xo[:, :, y0:y0 + window, x0:x0 + window] = 0
                logits = model(xo)
                prob[i, j] = score(logits, xo)
                top[i, j] = int(torch.argmax(logits[0]))
                unit_map[i, j] = unit(xo)
    return prob, top, unit_map


def TARGETS(top1, other):
    """Grad-CAM targets: the top class (ReLU on), another class (signed map), a unit (signed map)."""
    return [(("class", top1), True), (("class", other), False), (("unit", None), False)]


def make_case(name, model, shape, seed, cam_module, unit_cam_module, unit_module, unit_channel, unit_at, windows):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    x32 = train(model, shape[2], seed)
    path = os.path.join(d, "model.onnx")
    export(model, shape, path)
    np.save(os.path.join(d, "input.npy"), x32.numpy())
    cam_layer = layer_name_of(model, cam_module, x32, path)
    unit_layer = layer_name_of(model, unit_module, x32, path)
    unit_cam_layer = layer_name_of(model, unit_cam_module, x32, path)
    expected = {"generator": os.path.basename(__file__), "versions": VERSIONS, "model": "model.onnx",
                "input": "input.npy", "gradcam": [], "occlusion": []}
    with torch.no_grad():
        logits = model(x32)[0]
    order = torch.argsort(logits, descending=True).tolist()
    top1, other = order[0], order[3]
    outputs = {}

    def run(dtype):
        m = model.to(dtype)
        x = x32.to(dtype)
        cam_mod, unit_mod = cam_module, unit_module
        res = {}
        for k, (target, relu) in enumerate(TARGETS(top1, other)):
            if target[0] == "class":
                lgc = LayerGradCam(m, cam_mod)
                a = lgc.attribute(x, target=target[1], relu_attributions=relu)
            else:
                wrapper = LayerOutput(m, unit_mod)
                with torch.no_grad():
                    o = wrapper(x)
                uh, uw = unit_shape
                idx = unit_channel * uh * uw + unit_at[0] * uw + unit_at[1]
                lgc = LayerGradCam(wrapper, unit_cam_module)
                a = lgc.attribute(x, target=idx, relu_attributions=relu)
            res[f"gradcam_{k}"] = a.detach().numpy()[0, 0]
            if target[0] == "class":
                for mode in ["bilinear", "nearest"]:
                    ggc = GuidedGradCam(m, cam_mod)
                    gg = ggc.attribute(x, target=target[1], interpolate_mode=mode)
                    res[f"guided_gradcam_{k}_{mode}"] = gg.detach().numpy()
        for k, (window, stride, kind) in enumerate(windows):
            if kind == "class":
                f = lambda inp: torch.softmax(m(inp), dim=1)
                tgt = top1
            else:
                f = LayerOutput(m, unit_mod, channel=unit_channel)
                tgt = 0
            occ = Occlusion(f)
            a = occ.attribute(x, sliding_window_shapes=(shape[1], window, window), strides=(shape[1], stride, stride),
                              baselines=0, target=tgt)
            res[f"occlusion_{k}"] = a.detach().numpy()
            uh, uw = unit_shape
            unit_fn = lambda xo: float(LayerOutput(m, unit_mod)(xo)[0, unit_channel * uh * uw + unit_at[0] * uw + unit_at[1]])
            score = lambda lg, xo: float(torch.softmax(lg, dim=1)[0, top1])
            p, t, u = zf_maps(m, x, window, stride, score, unit_fn)
            res[f"occlusion_{k}_probability"] = p
            res[f"occlusion_{k}_top"] = t
            res[f"occlusion_{k}_unit"] = u
        model.to(torch.float32)
        return res

    with torch.no_grad():
        o = LayerOutput(model, unit_module)(x32)
    global unit_shape
    got = {}
    h = unit_module.register_forward_hook(lambda mm, i, oo: got.update(o=oo))
    with torch.no_grad():
        model(x32)
    h.remove()
    unit_shape = tuple(got["o"].shape[2:])
    if unit_channel is None:  # the strongest channel (Z&F's figure 7 uses the strongest feature map)
        unit_channel = int(torch.argmax(got["o"][0].amax(dim=(1, 2))))
    if unit_at is None:
        k = int(torch.argmax(got["o"][0, unit_channel]))
        unit_at = (k // unit_shape[1], k % unit_shape[1])
    r64 = run(torch.float64)
    r32 = run(torch.float32)
    for key in r64:
        if key.endswith("_top"):
            assert np.array_equal(r64[key], r32[key]), key
            continue
        err = rel_l2(r32[key], r64[key])
        print(f"  {key}: float32 vs float64 {err:.1e}")
    for key in r64:
        if key.endswith("_top"):
            continue
        err = rel_l2(r32[key], r64[key])
        assert err <= 1e-5, f"{name} {key}: float32 disagrees with float64 ({err:.2e})"
    for key, v in r64.items():
        np.save(os.path.join(d, key + ".npy"), np.asarray(v, np.float32))
    for k, (target, relu) in enumerate(TARGETS(top1, other)):
        e = {"file": f"gradcam_{k}.npy", "relu": relu, "layer": cam_layer if target[0] == "class" else unit_cam_layer}
        if target[0] == "class":
            e["class"] = target[1]
            e["guided"] = {"bilinear": f"guided_gradcam_{k}_bilinear.npy", "nearest": f"guided_gradcam_{k}_nearest.npy"}
        else:
            e["unit"] = {"layer": unit_layer, "channel": unit_channel, "y": unit_at[0], "x": unit_at[1]}
        expected["gradcam"].append(e)
    for k, (window, stride, kind) in enumerate(windows):
        e = {"file": f"occlusion_{k}.npy", "window": window, "stride": stride, "target": kind,
             "probability": f"occlusion_{k}_probability.npy", "top": f"occlusion_{k}_top.npy",
             "unit_map": f"occlusion_{k}_unit.npy", "class": top1,
             "unit": {"layer": unit_layer, "channel": unit_channel, "y": unit_at[0], "x": unit_at[1]}}
        expected["occlusion"].append(e)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(name, "cam", cam_layer, unit_cam_layer, "unit", unit_layer, unit_shape, "top1", top1)


# A random classifier barely notices a patch: occlusion maps would be differences of nearly equal
# probabilities, dominated by float32 rounding. The models are therefore trained (a few seconds) on a
# synthetic task where a patch matters, as on a real photograph: a bright blob on noise, labelled by
# the quadrant (and colour) it sits in.


def blobs(n, size, g):
    x = 0.3 * torch.randn(n, 3, size, size, generator=g)
    labels = torch.randint(0, 8, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in range(n):
        q, colour = int(labels[i]) % 4, int(labels[i]) // 4
        cy = (q // 2) * size // 2 + int(torch.randint(size // 8, 3 * size // 8, (1,), generator=g))
        cx = (q % 2) * size // 2 + int(torch.randint(size // 8, 3 * size // 8, (1,), generator=g))
        blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 12) ** 2))
        x[i, colour] += 2.5 * blob
        x[i, 2] += 1.5 * blob
    return x, labels


def train(model, size, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(250):
        x, y = blobs(32, size, g)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = blobs(200, size, g)
    with torch.no_grad():
        acc = float((model(x).argmax(1) == y).float().mean())
    print(f"  trained: accuracy {acc:.2f} on 200 fresh samples")
    return blobs(1, size, g)[0]


def main():
    torch.manual_seed(0)
    cnn = CNN()
    randomize_bn(cnn, torch.Generator().manual_seed(10))
    make_case("cnn", cnn, (1, 3, 40, 40), 100, cnn.features[9], cnn.features[5], cnn.features[7], None, None,
              [(12, 6, "class"), (11, 6, "class"), (7, 5, "unit")])
    torch.manual_seed(1)
    res = ResNet()
    randomize_bn(res, torch.Generator().manual_seed(11))
    make_case("resnet", res, (1, 3, 48, 48), 200, res.layer2.relu2, res.stem[2], res.layer1.relu2, None, None,
              [(12, 6, "class"), (6, 6, "unit")])


if __name__ == "__main__":
    main()
