"""Exports the models of the whole-job benchmark workloads (JR50, JD121, JEB0, JMV2; Docs/Performance.md
"Whole jobs") with random weights, for `convlens bench` and Tests/Benchmarks/pytorch_baseline.py.

Usage:  python Tests/Benchmarks/export_job_models.py [OUT_DIR]      (default .build/bench/zoo)

Writes, per model, OUT_DIR/<name>.onnx (torchvision's architecture, weights from
torch.manual_seed(0), eval mode, TorchScript exporter, opset 17, input 1x3x224x224; the exporter
folds BatchNorm into the convolutions), OUT_DIR/<name>.pt (the state dict the PyTorch side loads),
OUT_DIR/<name>.input.npy (one fixed random input, N(0, 1)), and OUT_DIR/jobs.json: per workload id
the files, the ONNX tensor of the probed module's output (the last node inside its scope) and its
channel count. Nothing here is committed: the files are large; this script reproduces them.
"""
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torchvision

warnings.filterwarnings("ignore")
torch.set_num_threads(2)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# id: (file name, constructor, module path of the probed block, ONNX node-name scope of that block)
JOBS = {
    "JR50": ("resnet50", lambda: torchvision.models.resnet50(), "layer3", "/layer3/"),
    "JD121": ("densenet121", lambda: torchvision.models.densenet121(), "features.denseblock3", "/features/denseblock3/"),
    "JEB0": ("efficientnet_b0", lambda: torchvision.models.efficientnet_b0(), "features.4", "/features/features.4/"),
    # Issue 14's own example: the expanded ReLU6 of block 10 (384 channels, 14x14).
    "JMV2": ("mobilenet_v2", lambda: torchvision.models.mobilenet_v2(), "features.10.conv.0", "/features/features.10/conv/conv.0/"),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, ".build", "bench", "zoo")
    os.makedirs(out, exist_ok=True)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    jobs = {}
    for wid, (name, ctor, module, scope) in JOBS.items():
        torch.manual_seed(0)
        net = ctor().eval()
        path = os.path.join(out, f"{name}.onnx")
        torch.onnx.export(net, (torch.from_numpy(x),), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"], do_constant_folding=True)
        torch.save(net.state_dict(), os.path.join(out, f"{name}.pt"))
        np.save(os.path.join(out, f"{name}.input.npy"), x)
        graph = onnx.load(path).graph
        inside = [n for n in graph.node if n.name.startswith(scope)]
        tensor = inside[-1].output[0]
        # The probed module's output, to check the ONNX tensor has the same channel count.
        captured = {}
        handle = net.get_submodule(module).register_forward_hook(lambda m, i, o: captured.setdefault("y", o))
        with torch.no_grad():
            net(torch.from_numpy(x))
        handle.remove()
        jobs[wid] = {"model": f"{name}.onnx", "weights": f"{name}.pt", "input": f"{name}.input.npy",
                     "architecture": name, "module": module, "layer": tensor,
                     "channels": int(captured["y"].shape[1]), "map": list(captured["y"].shape[2:])}
        print(f"{wid}: {path}, {module} = {tensor} {list(captured['y'].shape)}")
    with open(os.path.join(out, "jobs.json"), "w") as f:
        json.dump(jobs, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
