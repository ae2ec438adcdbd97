// Recurrent sequence models on the CPU, in the order of operations of their cascades (fp32, sums in index order):
// Mamba's selective scan (configs/workloads/ssm/mamba-s6-recurrent.yaml), one (batch, channel) sequence at a
// time, and Kimi Delta Attention's gated delta rule (configs/workloads/linear/kda-recurrent.yaml), one
// (batch, head) at a time.
#include <algorithm>
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

namespace {

// x / |x| over n values, |x| from the sum of squares in order.
void normalize(const float* x, int64_t n, float* out) {
  float sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += x[i] * x[i];
  const float r = 1.0f / std::sqrt(sq);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * r;
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void kda_recurrent(DType out_dtype, const KdaShape& s, const float* Q, const float* K, const float* V, const float* GA,
                   const float* GB, float* O, Backend backend) {
  detail::check_sizes("kda_recurrent", {{"B", s.B}, {"H", s.H}, {"T", s.T}, {"E", s.E}, {"F", s.F}});
  detail::check_out_dtype("kda_recurrent", out_dtype);
  if (backend == Backend::cuda) return cuda::kda_recurrent(out_dtype, s, Q, K, V, GA, GB, O);
  const auto E = static_cast<size_t>(s.E), F = static_cast<size_t>(s.F);
  std::vector<float> S(E * F), k(E), q(E), alpha(E), ks(F), u(F);
  for (int64_t bh = 0; bh < s.B * s.H; ++bh) {
    std::fill(S.begin(), S.end(), 0.0f);
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t row = bh * s.T + t;
      normalize(K + row * s.E, s.E, k.data());
      normalize(Q + row * s.E, s.E, q.data());
      for (size_t e = 0; e < E; ++e) alpha[e] = sigmoid(GA[row * s.E + static_cast<int64_t>(e)]);
      const float beta = sigmoid(GB[row]);
      for (size_t e = 0; e < E; ++e)
        for (size_t f = 0; f < F; ++f) S[e * F + f] = alpha[e] * S[e * F + f];
      std::fill(ks.begin(), ks.end(), 0.0f);
      for (size_t e = 0; e < E; ++e)
        for (size_t f = 0; f < F; ++f) ks[f] += k[e] * S[e * F + f];
      for (size_t f = 0; f < F; ++f) u[f] = beta * (V[row * s.F + static_cast<int64_t>(f)] - ks[f]);
      for (size_t e = 0; e < E; ++e)
        for (size_t f = 0; f < F; ++f) S[e * F + f] = S[e * F + f] + k[e] * u[f];
      for (size_t f = 0; f < F; ++f) {
        float o = 0;
        for (size_t e = 0; e < E; ++e) o += S[e * F + f] * q[e];
        O[row * s.F + static_cast<int64_t>(f)] = static_cast<float>(round_to(out_dtype, o));
      }
    }
  }
}

}  // namespace einsim::reference
