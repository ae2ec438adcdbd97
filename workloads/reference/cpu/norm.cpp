// LayerNorm and RMSNorm on the CPU, one row at a time, step by step as configs/workloads/layernorm.yaml and
// rmsnorm.yaml write them (sums over d in order, fp32).
#include <cmath>

#include "workloads/reference/check.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {

void layernorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, const float* beta,
               float* Y, Backend backend) {
  detail::check_sizes("layernorm", {{"N", N}, {"D", D}});
  detail::check_out_dtype("layernorm", out_dtype);
  if (backend == Backend::cuda) return cuda::layernorm(out_dtype, N, D, eps, X, gamma, beta, Y);
  const float d_count = static_cast<float>(D);
  const float eps32 = static_cast<float>(eps);
  for (int64_t n = 0; n < N; ++n) {
    const float* x = X + n * D;
    float sx = 0;
    for (int64_t d = 0; d < D; ++d) sx += x[d];
    const float mean = sx / d_count;
    float sxc = 0;
    for (int64_t d = 0; d < D; ++d) sxc += (x[d] - mean) * (x[d] - mean);
    const float rs = 1.0f / std::sqrt(sxc / d_count + eps32);
    for (int64_t d = 0; d < D; ++d)
      Y[n * D + d] = static_cast<float>(round_to(out_dtype, (x[d] - mean) * rs * gamma[d] + beta[d]));
  }
}

void rmsnorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, float* Y,
             Backend backend) {
  detail::check_sizes("rmsnorm", {{"N", N}, {"D", D}});
  detail::check_out_dtype("rmsnorm", out_dtype);
  if (backend == Backend::cuda) return cuda::rmsnorm(out_dtype, N, D, eps, X, gamma, Y);
  const float d_count = static_cast<float>(D);
  const float eps32 = static_cast<float>(eps);
  for (int64_t n = 0; n < N; ++n) {
    const float* x = X + n * D;
    float ss = 0;
    for (int64_t d = 0; d < D; ++d) ss += x[d] * x[d];
    const float rs = 1.0f / std::sqrt(ss / d_count + eps32);
    for (int64_t d = 0; d < D; ++d) Y[n * D + d] = static_cast<float>(round_to(out_dtype, x[d] * rs * gamma[d]));
  }
}

}  // namespace einsim::reference
