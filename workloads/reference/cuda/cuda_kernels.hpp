#pragma once
// The CUDA implementations behind kernels.hpp's Backend::cuda, with the same arguments (already checked by the
// public functions). Defined in cuda/*.cu, or by no_cuda.cpp (throwing) when einsim is built without CUDA.
#include <cstdint>

#include "workloads/reference/kernels.hpp"

namespace einsim::reference::cuda {

void attention_naive(DType out_dtype, const AttentionShape& s, const float* Q, const float* K, const float* V,
                     float* out);
void attention_tiled(DType out_dtype, const AttentionShape& s, int64_t tile_m, const float* Q, const float* K,
                     const float* V, float* out);
void attention_split(DType out_dtype, const AttentionShape& s, int64_t tile_m, int64_t splits, const float* Q,
                     const float* K, const float* V, float* out);
void attention_pruned(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                      const float* importance, const float* head_importance, const float* Q, const float* K,
                      const float* V, float* out);
void topk_gather(DType out_dtype, int64_t rows, int64_t n, int64_t keep, int64_t channels, const float* scores,
                 const float* X, float* out);
void gemm(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
void gemm_cublas(DType in_dtype, DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                 float* C);
void ffn_gelu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W2,
              float* Y);
void ffn_swiglu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W3,
                const float* W2, float* Y);
void layernorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, const float* beta,
               float* Y);
void rmsnorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, float* Y);
void gemm_int8(int64_t M, int64_t N, int64_t K, const int8_t* A, const int8_t* B, int32_t* C);
void gemm_w4a16(DType out_dtype, int64_t M, int64_t N, int64_t K, int64_t group, const float* A, const uint8_t* Wq,
                const float* scales, const uint8_t* zeros, float* C);
void gemm_fp8_e4m3(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float scale_a,
                   float scale_b, float* C);
void selective_scan(DType out_dtype, const ScanShape& s, const float* X, const float* DT, const float* DTB,
                    const float* ALOG, const float* BM, const float* CM, const float* DS, float* Y);
void kda_recurrent(DType out_dtype, const KdaShape& s, const float* Q, const float* K, const float* V, const float* GA,
                   const float* GB, float* O);

}  // namespace einsim::reference::cuda
