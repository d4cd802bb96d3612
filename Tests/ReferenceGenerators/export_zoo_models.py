"""Exports torchvision's classification zoo (and LR-ASPP) with random weights to ONNX, for trying
ConvLens on architectures it was not written for (Docs/Operators.md "Checked architectures").
Nothing here is committed as a fixture: the files are large; rerun to reproduce.
Usage:  .venv-ref/bin/python Tests/ReferenceGenerators/export_zoo_models.py [OUT_DIR] [NAME ...]
Writes OUT_DIR/<name>.onnx (TorchScript exporter, dynamo=False, opset 17, input 1x3x224x224) and
OUT_DIR/<name>.input.npy (a fixed random input).
"""
import os
import sys
import warnings

import numpy as np
import torch
import torchvision

warnings.filterwarnings("ignore")
torch.set_num_threads(2)

MODELS = {
    "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
    "shufflenet_v2_x0_5": lambda: torchvision.models.shufflenet_v2_x0_5(),
    "regnet_y_400mf": lambda: torchvision.models.regnet_y_400mf(),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(),
    "resnet18": lambda: torchvision.models.resnet18(),
    "densenet121": lambda: torchvision.models.densenet121(),
    "lraspp_mobilenet_v3_large": lambda: torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
}


class Logits(torch.nn.Module):
    """Segmentation models return a dict; export its 'out' tensor."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        y = self.net(x)
        return y["out"] if isinstance(y, dict) else y


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/convlens-zoo"
    names = sys.argv[2:] or list(MODELS)
    os.makedirs(out, exist_ok=True)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    for name in names:
        torch.manual_seed(0)
        net = Logits(MODELS[name]()).eval()
        path = os.path.join(out, f"{name}.onnx")
        torch.onnx.export(net, (torch.from_numpy(x),), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"], do_constant_folding=True)
        np.save(os.path.join(out, f"{name}.input.npy"), x)
        print("wrote", path)


if __name__ == "__main__":
    main()
