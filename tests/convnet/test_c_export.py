"""C export: the header is the flash image the accounting counts (sizeof == flash_bytes), and the
generated C decoder, compiled with gcc, gives back every layer's integers byte for byte for every
encoder; BatchNorm is folded into the stored multipliers and biases."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch

from convnet_opt.c_export import export_c
from convnet_opt.encoders import ENCODERS
from convnet_opt.memory import flash_bytes, folded_batchnorms, layer_blob, quantize, weight_layers
from convnet_opt.models import LeNet5, ResNet8

MAIN = r"""
#include <stdio.h>
#include "vhflow_decode.h"
#include "vhflow_model.h"
static int8_t w[1 << 20];
static uint8_t scratch[1 << 20];
int main(void) {
    int n = vhf_layers(vhflow_model, VHFLOW_MODEL_SIZE);
    if (n < 0) return 3;
    for (int i = 0; i < n; i++) {
        vhf_layer L;
        if (vhf_layer_info(vhflow_model, VHFLOW_MODEL_SIZE, i, &L)) return 4;
        long k = vhf_decode(&L, w, sizeof w, scratch, sizeof scratch);
        if (k < 0) return 5;
        fwrite(w, 1, (size_t)k, stdout);
        fwrite(L.multipliers, 1, 4u * L.cout, stdout);
        fwrite(L.shifts, 1, L.cout, stdout);
        if (L.bias) fwrite(L.bias, 1, 4u * L.cout, stdout);
    }
    /* a truncated image is refused, not read past its end */
    vhf_layer L;
    if (vhf_layer_info(vhflow_model, VHFLOW_MODEL_SIZE / 2, n - 1, &L) == 0) return 6;
    fprintf(stderr, "%u %d\n", (unsigned)sizeof(vhflow_model), n);
    return 0;
}
"""


def _gcc() -> str:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler")
    return gcc


def _build_and_run(tmp, model, bits, encoder) -> tuple[bytes, int, int]:
    paths = export_c(model, bits, encoder, tmp)
    (tmp / "main.c").write_text(MAIN)
    exe = tmp / "decode"
    subprocess.run([_gcc(), "-std=c99", "-O1", "-Wall", "-Werror", "-o", str(exe), str(tmp / "main.c"),
                    str(paths["decoder"]), "-I", str(tmp)], check=True, capture_output=True, text=True)
    r = subprocess.run([str(exe)], capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    size, layers = map(int, r.stderr.split())
    return r.stdout, size, layers


def _expected(model, bits, encoder) -> bytes:
    bns = folded_batchnorms(model)
    out = b""
    for name, m in weight_layers(model):
        b = bits if isinstance(bits, int) else bits[name]
        _, scales, bias, q, _ = layer_blob(m, b, encoder, bns.get(name))
        out += q.astype(np.int8).tobytes() + scales + bias
    return out


def _sparse_lenet() -> LeNet5:
    torch.manual_seed(3)
    m = LeNet5(size=16)
    with torch.no_grad():  # magnitude zeros, so the sparse encoders have something to do
        for _, mod in weight_layers(m):
            w = mod.weight
            w[w.abs() < w.abs().flatten().kthvalue(int(0.7 * w.numel())).values] = 0
    return m.eval()


@pytest.mark.parametrize("encoder", (*ENCODERS, "best"))
def test_c_decoder_reproduces_every_encoding(tmp_path, encoder):
    model = _sparse_lenet()
    bits = {"features.0": 8, "features.3": 4, "classifier.1": 2, "classifier.3": 3, "classifier.5": 6}
    got, size, layers = _build_and_run(tmp_path, model, bits, encoder)
    assert layers == 5
    assert size == flash_bytes(model, bits, encoder)  # the accounting is the header's payload
    assert got == _expected(model, bits, encoder)


def test_batchnorm_folded_into_multipliers(tmp_path):
    torch.manual_seed(0)
    model = ResNet8(width=4).eval()
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    got, size, layers = _build_and_run(tmp_path, model, 8, "dense")
    assert got == _expected(model, 8, "dense") and size == flash_bytes(model, 8, "dense")
    bns = folded_batchnorms(model)
    assert len(bns) == len(weight_layers(model)) - 1  # every conv but the linear head
    # the stored Q31 multiplier of the stem conv is s_w · γ / σ, its bias (β - μ γ/σ) in those units
    conv, bn = model.stem[0], model.stem[1]
    _, s_w = quantize(conv.weight, 8)
    gamma = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    _, scales, bias, _, _ = layer_blob(conv, 8, "dense", bn)
    c = conv.out_channels
    mant = np.frombuffer(scales[:4 * c], dtype="<i4").astype(np.float64)
    exp = np.frombuffer(scales[4 * c:], dtype=np.int8).astype(np.float64)
    mult = mant * 2.0 ** (exp - 31)
    np.testing.assert_allclose(mult, s_w * gamma, rtol=1e-6)  # float32 scales, Q31 rounding far below
    shift = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double().numpy()
    np.testing.assert_allclose(np.frombuffer(bias, dtype="<i4") * mult / 256, shift, atol=np.abs(mult).max() / 256)
