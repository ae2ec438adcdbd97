// Quantized GEMMs on the CPU: int8 exactly, W4A16 by explicit dequantization, fp8 e4m3 with per-tensor scales.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "common/error.hpp"
#include "workloads/reference/check.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {
namespace {

void check_codes(const char* what, const uint8_t* codes, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (codes[i] > 15)
      throw UserError(fmt::format("reference gemm_w4a16: {} [{}] is {}, not a 4-bit code (0..15)", what, i, codes[i]));
}

}  // namespace

void gemm_int8(int64_t M, int64_t N, int64_t K, const int8_t* A, const int8_t* B, int32_t* C, Backend backend) {
  detail::check_sizes("gemm_int8", {{"M", M}, {"N", N}, {"K", K}});
  if (backend == Backend::cuda) return cuda::gemm_int8(M, N, K, A, B, C);
  std::vector<int64_t> acc(static_cast<size_t>(N));  // |sum| <= 2^14 K: no overflow for any K that fits memory
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), 0);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) acc[static_cast<size_t>(j)] += int64_t{A[i * K + k]} * int64_t{B[k * N + j]};
    for (int64_t j = 0; j < N; ++j)
      C[i * N + j] = static_cast<int32_t>(std::clamp<int64_t>(
          acc[static_cast<size_t>(j)], std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
  }
}

void gemm_w4a16(DType out_dtype, int64_t M, int64_t N, int64_t K, int64_t group, const float* A, const uint8_t* Wq,
                const float* scales, const uint8_t* zeros, float* C, Backend backend) {
  detail::check_sizes("gemm_w4a16", {{"M", M}, {"N", N}, {"K", K}, {"group", group}});
  detail::check_out_dtype("gemm_w4a16", out_dtype);
  if (K % group != 0)
    throw UserError(fmt::format("reference gemm_w4a16: K ({}) must be a multiple of the group size ({})", K, group));
  check_codes("Wq", Wq, K * N);
  check_codes("zeros", zeros, K / group * N);
  if (backend == Backend::cuda) return cuda::gemm_w4a16(out_dtype, M, N, K, group, A, Wq, scales, zeros, C);
  std::vector<float> w(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      const int64_t g = (k / group) * N + j;
      const float centered = static_cast<float>(int{Wq[k * N + j]} - int{zeros[g]});
      w[static_cast<size_t>(k * N + j)] = static_cast<float>(round_to(DType::bf16, centered * scales[g]));
    }
  gemm(out_dtype, M, N, K, A, w.data(), C);
}

void gemm_fp8_e4m3(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float scale_a,
                   float scale_b, float* C, Backend backend) {
  detail::check_sizes("gemm_fp8_e4m3", {{"M", M}, {"N", N}, {"K", K}});
  detail::check_out_dtype("gemm_fp8_e4m3", out_dtype);
  if (backend == Backend::cuda) return cuda::gemm_fp8_e4m3(out_dtype, M, N, K, A, B, scale_a, scale_b, C);
  std::vector<float> acc(static_cast<size_t>(M * N));
  gemm(DType::fp32, M, N, K, A, B, acc.data());
  const float scale = scale_a * scale_b;
  for (size_t i = 0; i < acc.size(); ++i) C[i] = static_cast<float>(round_to(out_dtype, scale * acc[i]));
}

}  // namespace einsim::reference
