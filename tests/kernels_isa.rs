//! The kernels compiled for each instruction set give the same results, so the binary that
//! takes the AVX-512 path here also computes right on an AVX2-only or older CPU. A file of its
//! own: the instruction-set cap is process-wide.

use attune::kernels::{self, limit_simd, reference, simd_level, Simd};
use candle_core::{Device, Tensor};

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn every_instruction_set_matches_the_reference() {
    let x = Tensor::arange(-600f32, 600., &Device::Cpu)
        .unwrap()
        .affine(0.01, 0.0)
        .unwrap()
        .reshape((10, 120))
        .unwrap();
    let w = Tensor::ones(120, candle_core::DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::zeros(120, candle_core::DType::F32, &Device::Cpu).unwrap();
    let bias = Tensor::zeros((10, 120), candle_core::DType::F32, &Device::Cpu).unwrap();
    let want_gelu = reference::gelu_erf(&x).unwrap();
    let want_ln = reference::layer_norm(&x, &w, &b, 1e-12).unwrap();
    let want_sm = reference::masked_softmax(&x, &bias, 0.5).unwrap();
    let mut seen = Vec::new();
    for level in [Simd::Baseline, Simd::Avx2, Simd::Avx512] {
        limit_simd(level);
        let got = simd_level();
        assert!(got <= level);
        seen.push(got);
        let g = max_diff(&kernels::gelu_erf(&x).unwrap(), &want_gelu);
        let l = max_diff(&kernels::layer_norm(&x, &w, &b, 1e-12).unwrap(), &want_ln);
        let s = max_diff(&kernels::masked_softmax(&x, &bias, 0.5).unwrap(), &want_sm);
        assert!(
            g < 1e-5 && l < 1e-5 && s < 1e-5,
            "{got:?}: gelu {g}, layer norm {l}, softmax {s}"
        );
    }
    limit_simd(Simd::Avx512);
    eprintln!("instruction sets exercised on this CPU: {seen:?}");
}
