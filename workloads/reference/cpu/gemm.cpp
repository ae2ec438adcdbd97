// GEMMs and the FFN blocks on the CPU: fp32 accumulation in k order (each output's sum is a plain left fold).
#include <algorithm>
#include <cmath>
#include <vector>

#include "workloads/reference/check.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {
namespace {

// C = op(A B), op rounding to out_dtype. Rows of C are accumulated a row of B at a time, which keeps every
// output's sum in k order.
template <typename Op>
void gemm_rows(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C, Op op) {
  std::vector<float> acc(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[i * K + k];
      const float* b = B + k * N;
      for (int64_t j = 0; j < N; ++j) acc[static_cast<size_t>(j)] += a * b[j];
    }
    for (int64_t j = 0; j < N; ++j) C[i * N + j] = op(acc[static_cast<size_t>(j)]);
  }
}

void gemm_fp32(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  gemm_rows(M, N, K, A, B, C, [out_dtype](float x) { return static_cast<float>(round_to(out_dtype, x)); });
}

// The cascades' operators, written as workloads/cascade.hpp's apply_op writes them, so that fp32 results agree.
float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f))); }
float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace

void gemm(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C, Backend backend) {
  detail::check_sizes("gemm", {{"M", M}, {"N", N}, {"K", K}});
  detail::check_out_dtype("gemm", out_dtype);
  if (backend == Backend::cuda) return cuda::gemm(out_dtype, M, N, K, A, B, C);
  gemm_fp32(out_dtype, M, N, K, A, B, C);
}

void gemm_cublas(DType in_dtype, DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                 float* C) {
  detail::check_sizes("gemm_cublas", {{"M", M}, {"N", N}, {"K", K}});
  detail::check_out_dtype("gemm_cublas", in_dtype);
  detail::check_out_dtype("gemm_cublas", out_dtype);
  cuda::gemm_cublas(in_dtype, out_dtype, M, N, K, A, B, C);
}

void ffn_gelu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W2,
              float* Y, Backend backend) {
  detail::check_sizes("ffn_gelu", {{"N", N}, {"D", D}, {"FF", FF}});
  detail::check_out_dtype("ffn_gelu", out_dtype);
  if (backend == Backend::cuda) return cuda::ffn_gelu(out_dtype, N, D, FF, X, W1, W2, Y);
  std::vector<float> a(static_cast<size_t>(N * FF));
  gemm_rows(N, FF, D, X, W1, a.data(), gelu);  // A = gelu(H1), H1 = X W1
  gemm_fp32(out_dtype, N, D, FF, a.data(), W2, Y);
}

void ffn_swiglu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W3,
                const float* W2, float* Y, Backend backend) {
  detail::check_sizes("ffn_swiglu", {{"N", N}, {"D", D}, {"FF", FF}});
  detail::check_out_dtype("ffn_swiglu", out_dtype);
  if (backend == Backend::cuda) return cuda::ffn_swiglu(out_dtype, N, D, FF, X, W1, W3, W2, Y);
  std::vector<float> g(static_cast<size_t>(N * FF)), u(g.size());
  gemm_rows(N, FF, D, X, W1, g.data(), silu);                       // silu(G), G = X W1
  gemm_rows(N, FF, D, X, W3, u.data(), [](float x) { return x; });  // U = X W3
  for (size_t i = 0; i < g.size(); ++i) g[i] *= u[i];               // S
  gemm_fp32(out_dtype, N, D, FF, g.data(), W2, Y);
}

}  // namespace einsim::reference
