"""Writes Sources/ConvLens/Resources/labels/imagenet1k.txt: the 1,000 ImageNet-1k class names, one per
line in class-index order, from torchvision's weight metadata (the names the bundled model carries in
its convlens.labels). ConvLens offers them for models with 1,000 outputs and no labels of their own.
Run from the repository root:  .venv-ref/bin/python Tests/ReferenceGenerators/write_imagenet_labels.py
"""
import os

import torchvision

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "ConvLens", "Resources", "labels", "imagenet1k.txt")

categories = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
assert len(categories) == 1000 and categories == torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    f.write("\n".join(categories) + "\n")
print(f"wrote {len(categories)} labels to {os.path.normpath(OUT)}")
