// Mamba's selective scan on the CPU, one (batch, channel) sequence at a time, in the order of operations of
// configs/workloads/ssm/mamba-s6-recurrent.yaml (fp32; the sum over n in order).
#include <cmath>
#include <vector>

#include "workloads/reference/check.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {

void selective_scan(DType out_dtype, const ScanShape& s, const float* X, const float* DT, const float* DTB,
                    const float* ALOG, const float* BM, const float* CM, const float* DS, float* Y, Backend backend) {
  detail::check_sizes("selective_scan", {{"B", s.B}, {"T", s.T}, {"D", s.D}, {"N", s.N}});
  detail::check_out_dtype("selective_scan", out_dtype);
  if (backend == Backend::cuda) return cuda::selective_scan(out_dtype, s, X, DT, DTB, ALOG, BM, CM, DS, Y);
  std::vector<float> h(static_cast<size_t>(s.N));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t d = 0; d < s.D; ++d) {
      std::fill(h.begin(), h.end(), 0.0f);
      for (int64_t t = 0; t < s.T; ++t) {
        const int64_t i = (b * s.T + t) * s.D + d;
        const float z = DT[i] + DTB[d];
        const float delta = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));  // softplus
        const float x = X[i];
        float y = 0;
        for (int64_t n = 0; n < s.N; ++n) {
          const float a = -std::exp(ALOG[d * s.N + n]);
          const float bx = delta * BM[(b * s.T + t) * s.N + n] * x;
          float& state = h[static_cast<size_t>(n)];
          state = std::exp(delta * a) * state + bx;
          y += state * CM[(b * s.T + t) * s.N + n];
        }
        Y[i] = static_cast<float>(round_to(out_dtype, y + DS[d] * x));
      }
    }
}

}  // namespace einsim::reference
