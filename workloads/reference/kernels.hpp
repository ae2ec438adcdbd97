#pragma once
// Reference kernels: plain implementations of the workloads in configs/workloads/ (attention, GEMM, FFN, norms,
// quantized GEMMs), written apart from the interpreter so that each checks the other, on the CPU and in CUDA
// where a GPU exists. docs/reference-kernels.md gives each kernel's arithmetic and the tests' tolerances.
//
// Conventions, for every kernel:
// - Tensors are row-major arrays in host memory, laid out as the cascade configs declare them. Float inputs hold
//   values already representable in their dtype (round them with einsim::round_to); they are not checked.
// - Arithmetic and intermediates are fp32, products rounded before they are added (no fused multiply-add), sums
//   in index order on the CPU. `out_dtype` (fp32, bf16 or fp16) is what each output value is rounded to (RNE).
// - `backend` picks the CPU or the CUDA implementation; CUDA copies the inputs to the GPU and the outputs back.
//   Calling CUDA where cuda_available() is false throws InternalError. Bad shapes throw UserError.
// C++17, so that the CUDA sources can include it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/dtype.hpp"

namespace einsim::reference {

enum class Backend { cpu, cuda };
std::string_view backend_name(Backend b);  // "cpu", "cuda"

// True when einsim was built with CUDA and a GPU that can run its kernels is present (its name then goes to
// *device_name). Never throws or prints: no driver, no device and an unsupported device all give false.
bool cuda_available(std::string* device_name = nullptr);

// Q [B,H,E,P], K [B,KH,E,M], V [B,KH,F,M], out [B,H,F,P]. Query head h reads KV head h / (H/KH): KH = H is MHA,
// 1 < KH < H GQA, KH = 1 MQA. No 1/sqrt(E) scaling, as in the cascades. Causal: the P queries are the last P of
// the M positions, so query p sees keys m <= p + (M - P) (needs P <= M). Decode with a KV cache is P = 1.
struct AttentionShape {
  int64_t B = 1, H = 1, KH = 1, M = 1, P = 1, E = 1, F = 1;
  bool causal = false;
};

// Scores of a query row materialized, then a 3-pass softmax (max; exp and sum; divide) and the product with V,
// as configs/workloads/attention-3pass.yaml. The CUDA version materializes the scores of a chunk of queries at
// a time (1 GiB at most), so that long sequences fit.
void attention_naive(DType out_dtype, const AttentionShape& s, const float* Q, const float* K, const float* V,
                     float* out, Backend backend = Backend::cpu);

// One pass along M in tiles of tile_m keys (the last tile may be shorter) with a running max, denominator and
// numerator rescaled at each tile, as configs/workloads/attention-1pass.yaml with M0 = tile_m (FlashAttention).
void attention_tiled(DType out_dtype, const AttentionShape& s, int64_t tile_m, const float* Q, const float* K,
                     const float* V, float* out, Backend backend = Backend::cpu);

// Split-K (FlashDecoding, Lean Attention): the keys in `splits` parts of ceil(M / splits) (the last may be
// shorter), each the 1-pass softmax above in tiles of tile_m keys, then the parts' partials rescaled to the
// largest of their maxima and summed in part order, as configs/workloads/llm/decode-attention-split.yaml with
// S = splits and M0 = tile_m. splits = 1 is attention_tiled. The CUDA version runs a block per part and a second
// kernel that combines them.
void attention_split(DType out_dtype, const AttentionShape& s, int64_t tile_m, int64_t splits, const float* Q,
                     const float* K, const float* V, float* out, Backend backend = Backend::cpu);

// The indices of the `keep` largest of scores[0, n), largest first, the lower index first on a tie (the cascade
// language's topk).
std::vector<int64_t> topk_indices(const float* scores, int64_t n, int64_t keep);

// SpAtten's top-k engine and the gather it feeds, as configs/workloads/llm/topk-gather.yaml: for each row b of
// scores [rows, n] the `keep` largest (topk_indices' order), then out[b, c, k] = X[b, c, index k] for each of the
// `channels` rows of X [rows, channels, n]: the kept columns, most important first, as a pruned cascade reads its
// kept tokens' keys. The CUDA version ranks on the GPU as attention_pruned does (rows of at most 65,536 scores)
// and gathers with a thread per output element.
void topk_gather(DType out_dtype, int64_t rows, int64_t n, int64_t keep, int64_t channels, const float* scores,
                 const float* X, float* out, Backend backend = Backend::cpu);

// SpAtten's token and head pruning in a decode step (P = 1), as configs/workloads/llm/decode-attention-pruned.yaml:
// for each sequence b the `keep` tokens of the largest importance[b, M] and the `keep_heads` heads of the largest
// head_importance[b, H] (topk_indices), then per kept head the 3-pass softmax over the kept tokens' scores only, in
// that order, the division deferred to the weighted values. out [B, keep_heads, F], the most important head
// first. The CUDA version ranks on the GPU (every pair of a row compared: rows of at most 65,536 scores) and
// gathers the kept rows in a block per (sequence, kept head), its sums in the CPU's order.
void attention_pruned(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                      const float* importance, const float* head_importance, const float* Q, const float* K,
                      const float* V, float* out, Backend backend = Backend::cpu);

// Two layers of attention_pruned's step with SpAtten's cascade pruning, as
// configs/workloads/llm/decode-attention-pruned-layers.yaml: layer 1 keeps `tokens` and `heads` by the given
// importances, adds each kept token's probability summed over the kept heads to its importance and each kept
// head's summed |output| (its output rounded to out_dtype) to the head's; layer 2 keeps the `tokens2` and `heads2`
// most important of those (topk_indices over layer 1's kept lists) and attends with its own Q2, K2, V2 over them.
// out [B, heads2, F]: layer 2's output. CPU only.
struct PrunedLayers {
  int64_t tokens = 1, heads = 1, tokens2 = 1, heads2 = 1;
};
void attention_pruned_layers(DType out_dtype, const AttentionShape& s, const PrunedLayers& keep,
                             const float* importance, const float* head_importance, const float* Q1, const float* K1,
                             const float* V1, const float* Q2, const float* K2, const float* V2, float* out);
// SpAtten's progressive quantization on top of attention_pruned, as
// configs/workloads/llm/decode-attention-spatten.yaml. Keys and values are stored in two planes of codes (as
// floats): K = (KH * 16 + KL) * sk, V = (VH * 16 + VL) * sv, all [B, H, E or F, M]. Each kept head's scores and
// softmax come from the MSB planes first (in units of 16 sk); where its largest probability is below `threshold`,
// the LSB planes' partial products are added and the softmax redone at full precision, and its weighted values
// take the LSB plane too. out [B, keep_heads, F]. MHA; CPU only.
struct ProgressiveQuant {
  float sk = 1, sv = 1, threshold = 0.1f;
};
void attention_spatten(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                       const ProgressiveQuant& pq, const float* importance, const float* head_importance,
                       const float* Q, const float* KH, const float* KL, const float* VH, const float* VL, float* out);
// C[M,N] = A[M,K] B[K,N], fp32 accumulation in k order. The CUDA version is a shared-memory tiled kernel that
// keeps that order, so its results equal the CPU's bit for bit.
void gemm(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C,
          Backend backend = Backend::cpu);

// CUDA only: the same GEMM by cublasGemmEx with A and B rounded to in_dtype (fp32, bf16 or fp16) and fp32 compute.
// cuBLAS chooses its summation order (and may split K), so it agrees with gemm() to fp32 rounding, not exactly.
void gemm_cublas(DType in_dtype, DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                 float* C);

// Y[N,D] = gelu(X[N,D] W1[D,FF]) W2[FF,D], exact (erf) GELU, no biases (configs/workloads/ffn-gelu.yaml).
void ffn_gelu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W2,
              float* Y, Backend backend = Backend::cpu);

// Y[N,D] = (silu(X W1) * (X W3)) W2 with W1, W3 [D,FF] and W2 [FF,D] (configs/workloads/ffn-swiglu.yaml).
void ffn_swiglu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W3,
                const float* W2, float* Y, Backend backend = Backend::cpu);

// Y[n,d] = (X[n,d] - mean) * rsqrt(var + eps) * gamma[d] + beta[d], mean and (biased) var over d
// (configs/workloads/layernorm.yaml).
void layernorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, const float* beta,
               float* Y, Backend backend = Backend::cpu);

// Y[n,d] = X[n,d] * rsqrt(mean_d(X^2) + eps) * gamma[d], no beta (configs/workloads/rmsnorm.yaml).
void rmsnorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, float* Y,
             Backend backend = Backend::cpu);

// Mamba's selective scan (S6), per batch b and channel d, recurrently over t (configs/workloads/ssm/):
//   delta = softplus(DT[b,t,d] + DTB[d]), A[d,n] = -exp(ALOG[d,n]),
//   h[n] = exp(delta A[d,n]) h[n] + delta BM[b,t,n] X[b,t,d]   (h = 0 at t = 0),
//   Y[b,t,d] = sum_n h[n] CM[b,t,n] + DS[d] X[b,t,d].
// X, DT, Y [B,T,D]; BM, CM [B,T,N]; DTB, DS [D]; ALOG [D,N]. The CUDA version runs a thread per (b, d).
struct ScanShape {
  int64_t B = 1, T = 1, D = 1, N = 1;
};
void selective_scan(DType out_dtype, const ScanShape& s, const float* X, const float* DT, const float* DTB,
                    const float* ALOG, const float* BM, const float* CM, const float* DS, float* Y,
                    Backend backend = Backend::cpu);

// Kimi Delta Attention's gated delta rule, per (batch, head), recurrently over t (configs/workloads/linear/):
//   k = K / |K|, q = Q / |Q|, alpha = sigmoid(GA), beta = sigmoid(GB), S = 0 at t = 0 ([E, F]),
//   SA = Diag(alpha) S, KS = k^T SA, U = beta (v - KS), S = SA + k U^T, O = S^T q.
// Q, K, GA [B,H,T,E]; V, O [B,H,T,F]; GB [B,H,T]. The CUDA version runs a thread per (b, h, value channel):
// each column of S evolves on its own given k, alpha, beta and q.
struct KdaShape {
  int64_t B = 1, H = 1, T = 1, E = 1, F = 1;
};
void kda_recurrent(DType out_dtype, const KdaShape& s, const float* Q, const float* K, const float* V, const float* GA,
                   const float* GB, float* O, Backend backend = Backend::cpu);

// C[M,N] = A[M,K] B[K,N] in integers: exact, saturated to the int32 range (which only K > 131071 can reach).
void gemm_int8(int64_t M, int64_t N, int64_t K, const int8_t* A, const int8_t* B, int32_t* C,
               Backend backend = Backend::cpu);

// Weight-only 4-bit quantized GEMM. Wq [K,N] holds one uint4 code (0..15) per byte, unpacked; scales and zeros are
// [K/group, N] (zeros are codes 0..15 too). W[k,n] = bf16((Wq[k,n] - zeros[k/group,n]) * scales[k/group,n]), the
// product in fp32, then C = A W as gemm() does, A [M,K] holding bf16 values. K must be a multiple of group.
void gemm_w4a16(DType out_dtype, int64_t M, int64_t N, int64_t K, int64_t group, const float* A, const uint8_t* Wq,
                const float* scales, const uint8_t* zeros, float* C, Backend backend = Backend::cpu);

// C = out_dtype((scale_a * scale_b) * sum_k A[m,k] B[k,n]) with A [M,K] and B [K,N] holding fp8 e4m3 values,
// per-tensor scales, the sum in fp32 in k order and the scale product in fp32.
void gemm_fp8_e4m3(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float scale_a,
                   float scale_b, float* C, Backend backend = Backend::cpu);

}  // namespace einsim::reference
