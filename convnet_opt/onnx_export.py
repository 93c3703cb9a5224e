"""ONNX export of a compressed ConvNet with its weights stored as the integers flash holds.

Why not `torch.onnx.export`: we want the *quantised* tensors as initialisers (int8 weights at
their bit width, int32 biases at scale/2^8, float32 per-channel scales) feeding
`DequantizeLinear` nodes, exactly the representation `memory.serialize` counts, and no extra
exporter dependency. The graph is built from the torch.fx trace of the (baked) model, covering
the layers of `models.py`: Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d(1), Flatten, Identity/Dropout and residual additions. The memory table goes
into `metadata_props` (`vhflow.memory`, JSON), next to the bit widths (`vhflow.bits`).
"""

from __future__ import annotations

import json
import operator
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import fx, nn

from convnet_opt.memory import flash_bytes, flash_table, quantize, quantize_bias, ram_bytes, weight_layers
from convnet_opt.train import bake

OPSET = 19


def _pair(v) -> list[int]:
    return list(v) if isinstance(v, tuple | list) else [int(v), int(v)]


def export_onnx(model: nn.Module, input_shape: tuple[int, ...], bits: dict[str, int] | int = 8,
                path: str | Path | None = None, encoder: str = "dense", meta: dict | None = None,
                act_scales: dict[str, float] | None = None) -> onnx.ModelProto:
    """Build (and optionally save) the ONNX model; returns it. With `act_scales` (per layer, from
    `act_quant.calibrate_act_scales`), each conv/linear input goes through QuantizeLinear to int8
    and DequantizeLinear (QDQ): the activations are integers as deployed, and onnxruntime fuses
    the pattern into integer kernels where it can."""
    m = bake(model)
    bits_of = {n: (bits if isinstance(bits, int) else bits.get(n, 8)) for n, _ in weight_layers(m)}
    if any(b > 8 for b in bits_of.values()):
        raise ValueError("ONNX export stores weights as int8: bit widths must be <= 8")
    mods = dict(m.named_modules())
    graph = fx.symbolic_trace(m).graph
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    names: dict[fx.Node, str] = {}

    def init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def inp(node: fx.Node) -> str:
        return names[node.args[0]]

    for node in graph.nodes:
        out = node.name
        if node.op == "placeholder":
            names[node] = "input"
            continue
        if node.op == "output":
            nodes.append(helper.make_node("Identity", [names[node.args[0]]], ["output"]))
            continue
        if node.op == "call_module":
            mod = mods[node.target]
            key = node.target.replace(".", "_")
            if isinstance(mod, nn.Conv2d | nn.Linear):
                b = bits_of[node.target]
                q, scale = quantize(mod.weight, b)
                wq = init(f"{key}.weight_q", q.astype(np.int8))
                ws = init(f"{key}.weight_scale", scale.astype(np.float32))
                nodes.append(helper.make_node("DequantizeLinear", [wq, ws], [f"{key}.weight"], axis=0))
                x_in = inp(node)
                if act_scales is not None:
                    s_in = init(f"{key}.input_scale", np.array(act_scales[node.target], dtype=np.float32))
                    zp = init(f"{key}.input_zero", np.array(0, dtype=np.int8))
                    nodes.append(helper.make_node("QuantizeLinear", [x_in, s_in, zp], [f"{key}.input_q"]))
                    nodes.append(helper.make_node("DequantizeLinear", [f"{key}.input_q", s_in, zp], [f"{key}.input_dq"]))
                    x_in = f"{key}.input_dq"
                ins = [x_in, f"{key}.weight"]
                if mod.bias is not None:
                    bi = init(f"{key}.bias_q", quantize_bias(mod.bias, scale))
                    bs = init(f"{key}.bias_scale", (scale.astype(np.float64) / 2**8).astype(np.float32))
                    nodes.append(helper.make_node("DequantizeLinear", [bi, bs], [f"{key}.bias"], axis=0))
                    ins.append(f"{key}.bias")
                if isinstance(mod, nn.Conv2d):
                    if isinstance(mod.padding, str):
                        raise ValueError(f"{node.target}: string padding is not supported")
                    p = _pair(mod.padding)
                    nodes.append(helper.make_node("Conv", ins, [out], kernel_shape=_pair(mod.kernel_size),
                                                  strides=_pair(mod.stride), pads=p + p,
                                                  dilations=_pair(mod.dilation), group=mod.groups))
                else:
                    nodes.append(helper.make_node("Gemm", ins, [out], transB=1))
            elif isinstance(mod, nn.BatchNorm2d):
                ins = [inp(node)]
                for attr in ("weight", "bias", "running_mean", "running_var"):
                    ins.append(init(f"{key}.{attr}", getattr(mod, attr).detach().numpy().astype(np.float32)))
                nodes.append(helper.make_node("BatchNormalization", ins, [out], epsilon=float(mod.eps)))
            elif isinstance(mod, nn.ReLU):
                nodes.append(helper.make_node("Relu", [inp(node)], [out]))
            elif isinstance(mod, nn.MaxPool2d | nn.AvgPool2d):
                k = _pair(mod.kernel_size)
                s = _pair(mod.stride if mod.stride is not None else mod.kernel_size)
                p = _pair(mod.padding)
                op = "MaxPool" if isinstance(mod, nn.MaxPool2d) else "AveragePool"
                nodes.append(helper.make_node(op, [inp(node)], [out], kernel_shape=k, strides=s, pads=p + p))
            elif isinstance(mod, nn.AdaptiveAvgPool2d):
                if _pair(mod.output_size) != [1, 1]:
                    raise ValueError(f"{node.target}: only AdaptiveAvgPool2d(1) is supported")
                nodes.append(helper.make_node("GlobalAveragePool", [inp(node)], [out]))
            elif isinstance(mod, nn.Flatten):
                nodes.append(helper.make_node("Flatten", [inp(node)], [out], axis=int(mod.start_dim)))
            elif isinstance(mod, nn.Identity | nn.Dropout):
                nodes.append(helper.make_node("Identity", [inp(node)], [out]))
            else:
                raise ValueError(f"{node.target}: {type(mod).__name__} has no ONNX mapping here")
        elif node.op == "call_function" and node.target in (torch.relu, nn.functional.relu):
            nodes.append(helper.make_node("Relu", [inp(node)], [out]))
        elif node.op == "call_function" and node.target in (operator.add, torch.add):
            nodes.append(helper.make_node("Add", [names[node.args[0]], names[node.args[1]]], [out]))
        elif node.op == "call_function" and node.target is torch.flatten:
            nodes.append(helper.make_node("Flatten", [inp(node)], [out], axis=int(node.args[1]) if len(node.args) > 1 else 0))
        else:
            raise ValueError(f"unsupported operation in the traced graph: {node.op} {node.target}")
        names[node] = out

    with torch.no_grad():
        n_out = int(m(torch.zeros(1, *input_shape)).shape[1])
    g = helper.make_graph(nodes, "vhflow_convnet",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", n_out])], inits)
    model_proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vhflow")
    table = flash_table(m, bits_of, encoder)
    mem = {"encoder": encoder, "flash_bytes": flash_bytes(m, bits_of, encoder),
           "ram_bytes": ram_bytes(m, input_shape, bits_of, encoder),
           "layers": [{"name": r.name, "bits": r.bits, "params": r.params, "nonzero": r.nonzero,
                       "weight_bytes": r.weight_bytes, "scale_bytes": r.scale_bytes, "bias_bytes": r.bias_bytes}
                      for r in table]}
    props = {"vhflow.memory": json.dumps(mem), "vhflow.bits": json.dumps(bits_of)}
    for k, v in (meta or {}).items():
        props[f"vhflow.{k}"] = v if isinstance(v, str) else json.dumps(v)
    helper.set_model_props(model_proto, props)
    onnx.checker.check_model(model_proto)
    if path is not None:
        onnx.save(model_proto, str(path))
    return model_proto


def dequantized_weights(model_proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Weights as the ONNX file defines them (int * per-channel scale), re-done in numpy."""
    inits = {t.name: numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    out = {}
    for name, q in inits.items():
        if name.endswith(".weight_q"):
            key = name[: -len("_q")]
            s = inits[key + "_scale"]
            out[key] = q.astype(np.float32) * s.reshape(-1, *([1] * (q.ndim - 1)))
    return out


def run_reference(model_proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """Run with onnxruntime when installed, else onnx's pure-python reference evaluator."""
    try:
        import onnxruntime as ort
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return np.asarray(ReferenceEvaluator(model_proto).run(None, {"input": x.astype(np.float32)})[0])
    sess = ort.InferenceSession(model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"input": x.astype(np.float32)})[0])
