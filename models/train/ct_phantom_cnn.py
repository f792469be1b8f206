"""Train the synthetic-phantom CNN (pipeline demonstration) and write ``models/ct-phantom-lesion/1``.

Images are generated here with fixed seeds (no data is downloaded or bundled): 2-D "CT-like" slices in
Hounsfield units, windowed with :func:`inference.dicom.apply_window` exactly as DICOM input is at
serving time. The network is trained in PyTorch and written to ONNX node by node (no exporter), then
checked against PyTorch. Run from the repository root: ``python -m models.train.ct_phantom_cnn``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn.metrics import brier_score_loss, roc_auc_score
from torch import nn

from inference.dicom import Window, apply_window
from models.train import common
from models.train.cards import render_phantom_card

NAME, VERSION, SEED, SIZE, EPOCHS = "ct-phantom-lesion", "1", 20240607, 64, 8
WINDOW = Window(center=40.0, width=400.0)
N_TRAIN, N_TEST = 3000, 1000


def ellipse(shape: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray[Any, Any]:
    """Boolean mask of an axis-aligned ellipse."""
    yy, xx = np.mgrid[0:shape, 0:shape]
    return bool_mask(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0)


def bool_mask(a: Any) -> np.ndarray[Any, Any]:
    """Typed boolean array."""
    return np.asarray(a, dtype=bool)


def phantom(rng: np.random.Generator, lesion: bool) -> np.ndarray[Any, Any]:
    """One slice in HU: air, elliptical soft-tissue body, 1–3 internal structures, optional focus, noise."""
    img = np.full((SIZE, SIZE), -1000.0)
    cy, cx = SIZE / 2 + rng.uniform(-3, 3, 2)
    body = ellipse(SIZE, cy, cx, rng.uniform(18, 27), rng.uniform(22, 29))
    img[body] = 40.0 + rng.normal(0, 5)
    for _ in range(rng.integers(1, 4)):
        oy, ox = cy + rng.uniform(-10, 10), cx + rng.uniform(-12, 12)
        organ = ellipse(SIZE, oy, ox, rng.uniform(3, 8), rng.uniform(3, 10)) & body
        img[organ] = rng.choice([-100.0, 20.0, 60.0]) + rng.normal(0, 5)
    if lesion:
        inside = np.argwhere(ellipse(SIZE, cy, cx, 14, 18))
        ly, lx = inside[rng.integers(len(inside))]
        radius = rng.uniform(2.0, 4.5)
        focus = ellipse(SIZE, ly, lx, radius, radius)
        img[focus] += rng.uniform(60, 150)
    return img + rng.normal(0, rng.uniform(10, 30), img.shape)


def dataset(seed: int, n: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """``n`` windowed phantoms (N, 1, SIZE, SIZE) float32 and labels, half with a focus."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2)
    images = np.stack([apply_window(phantom(rng, bool(y)), WINDOW) for y in labels])
    return images[:, np.newaxis], labels.astype(np.int64)


class Net(nn.Module):
    """conv3×3(8)–ReLU–maxpool2 → conv3×3(16)–ReLU–maxpool2 → global max → linear → logit."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        out: torch.Tensor = self.fc(torch.amax(x, dim=(2, 3)))
        return out


def train(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> Net:
    """Adam, binary cross-entropy, deterministic single-threaded CPU training."""
    torch.manual_seed(SEED)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).float()
    order_rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        for batch in np.array_split(order_rng.permutation(len(y)), len(y) // 64):
            idx = torch.from_numpy(batch)
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(net(xt[idx])[:, 0], yt[idx])
            torch.autograd.backward(loss)
            opt.step()
    return net


def to_onnx(net: Net) -> Any:
    """The same network as ONNX operators (Conv, Relu, MaxPool, GlobalMaxPool, Gemm, Sigmoid)."""
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    inits = [numpy_helper.from_array(v, k) for k, v in sd.items()]
    nodes = [
        helper.make_node("Conv", ["image", "conv1.weight", "conv1.bias"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalMaxPool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logit"], transB=1),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    graph = helper.make_graph(
        nodes,
        NAME,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, SIZE, SIZE])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    return common.finish_model(graph)


def net_from_onnx(model: Any) -> Net:
    """A PyTorch network carrying the weights stored in the ONNX file (initialiser names = state_dict keys)."""
    net = Net()
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    net.load_state_dict(weights)
    return net.eval()


def build_spec() -> dict[str, Any]:
    """The model.json content."""
    return {
        "name": NAME,
        "version": VERSION,
        "kind": "image",
        "title": "Synthetic CT phantom focus detector (pipeline demonstration only)",
        "image": {
            "modalities": ["CT"],
            "window": {"center": WINDOW.center, "width": WINDOW.width},
            "size": [SIZE, SIZE],
            "input": "image",
        },
        "outputs": {"probability": "probability"},
        "prediction": {"outcome": {"text": "Synthetic hyperdense focus present (demonstration, not a finding)"}},
    }


def main(models_dir: Path = common.MODELS_DIR) -> None:
    """Generate data, train, export, compare with PyTorch, evaluate on held-out phantoms, write the folder."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    x_train, y_train = dataset(SEED, N_TRAIN)
    x_test, y_test = dataset(SEED + 1, N_TEST)
    net = train(x_train, y_train).eval()
    with torch.no_grad():
        framework = torch.sigmoid(net(torch.from_numpy(x_test)))[:, 0].numpy().astype(np.float64)
    model = to_onnx(net)
    prob = common.run_onnx(model, {"image": x_test})[0][:, 0]
    max_diff = float(np.abs(prob - framework).max())
    assert max_diff < 1e-4, f"ONNX and PyTorch disagree by {max_diff}"
    metrics: dict[str, Any] = {
        "model": {
            "name": NAME,
            "version": VERSION,
            "seed": SEED,
            "epochs": EPOCHS,
            "torch": torch.__version__,
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        "data": {"n_train": N_TRAIN, "n_test": N_TEST, "positive_fraction_test": float(y_test.mean())},
        "test": {
            "auroc": common.bootstrap_ci(lambda i: float(roc_auc_score(y_test[i], framework[i])), N_TEST, SEED),
            "brier": round(float(brier_score_loss(y_test, framework)), 4),
        },
        "onnx_vs_framework_max_abs_diff": float(f"{max_diff:.1e}"),
        "environment": common.environment(),
    }
    spec = build_spec()
    common.write_artefacts(models_dir / NAME / VERSION, model, spec, metrics, render_phantom_card(spec, metrics))
    print(f"{NAME}/{VERSION}: AUROC {common.fmt_ci(metrics['test']['auroc'])}, max |ONNX-torch| {max_diff:.2e}")


if __name__ == "__main__":
    main()
