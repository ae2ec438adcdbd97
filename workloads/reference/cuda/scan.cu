// Recurrent sequence models on the GPU, in the CPU's order of operations (exp, log1p and sqrt may differ in the
// last bit). Mamba's selective scan: a thread per (batch, channel) sequence walks t, its state in registers (N at
// most kMaxState). Kimi Delta Attention: a thread per (batch, head, value channel) keeps its column of the state
// (E at most kMaxKeys) and recomputes the step's shared k, q and gates, which cost E per step against its EF/F.
#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxState = 64;

__global__ void __launch_bounds__(kThreads)
    scan_kernel(ScanShape s, const float* X, const float* DT, const float* DTB, const float* ALOG, const float* BM,
                const float* CM, const float* DS, float* Y, Round r) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (j >= s.B * s.D) return;
  const int64_t b = j / s.D, d = j % s.D;
  float h[kMaxState];
  float a[kMaxState];
  for (int64_t n = 0; n < s.N; ++n) h[n] = 0, a[n] = -expf(ALOG[d * s.N + n]);
  for (int64_t t = 0; t < s.T; ++t) {
    const int64_t i = (b * s.T + t) * s.D + d;
    const float z = DT[i] + DTB[d];
    const float delta = z > 0 ? z + log1pf(expf(-z)) : log1pf(expf(z));
    const float x = X[i];
    float y = 0;
    for (int64_t n = 0; n < s.N; ++n) {
      const float bx = __fmul_rn(__fmul_rn(delta, BM[(b * s.T + t) * s.N + n]), x);
      h[n] = __fadd_rn(__fmul_rn(expf(__fmul_rn(delta, a[n])), h[n]), bx);
      y = __fadd_rn(y, __fmul_rn(h[n], CM[(b * s.T + t) * s.N + n]));
    }
    Y[i] = round_out(__fadd_rn(y, __fmul_rn(DS[d], x)), r);
  }
}

constexpr int64_t kMaxKeys = 256;

__global__ void __launch_bounds__(kThreads) kda_kernel(KdaShape s, const float* Q, const float* K, const float* V,
                                                       const float* GA, const float* GB, float* O, Round r) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (j >= s.B * s.H * s.F) return;
  const int64_t bh = j / s.F, f = j % s.F;
  float col[kMaxKeys];
  for (int64_t e = 0; e < s.E; ++e) col[e] = 0;
  for (int64_t t = 0; t < s.T; ++t) {
    const int64_t row = bh * s.T + t;
    const float* k = K + row * s.E;
    const float* q = Q + row * s.E;
    float ksq = 0, qsq = 0;
    for (int64_t e = 0; e < s.E; ++e) ksq = __fadd_rn(ksq, __fmul_rn(k[e], k[e]));
    for (int64_t e = 0; e < s.E; ++e) qsq = __fadd_rn(qsq, __fmul_rn(q[e], q[e]));
    const float kr = __fdiv_rn(1.0f, __fsqrt_rn(ksq)), qr = __fdiv_rn(1.0f, __fsqrt_rn(qsq));
    const float beta = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-GB[row])));
    float ks = 0;
    for (int64_t e = 0; e < s.E; ++e) {
      const float alpha = __fdiv_rn(1.0f, __fadd_rn(1.0f, expf(-GA[row * s.E + e])));
      col[e] = __fmul_rn(alpha, col[e]);
      ks = __fadd_rn(ks, __fmul_rn(__fmul_rn(k[e], kr), col[e]));
    }
    const float u = __fmul_rn(beta, __fsub_rn(V[row * s.F + f], ks));
    float o = 0;
    for (int64_t e = 0; e < s.E; ++e) {
      col[e] = __fadd_rn(col[e], __fmul_rn(__fmul_rn(k[e], kr), u));
      o = __fadd_rn(o, __fmul_rn(col[e], __fmul_rn(q[e], qr)));
    }
    O[row * s.F + f] = round_out(o, r);
  }
}

}  // namespace

void kda_recurrent(DType out_dtype, const KdaShape& s, const float* Q, const float* K, const float* V, const float* GA,
                   const float* GB, float* O) {
  require_device("kda_recurrent");
  if (s.E > kMaxKeys)
    throw UserError("reference kda_recurrent on CUDA: " + std::to_string(s.E) + " key channels exceed " +
                    std::to_string(kMaxKeys));
  const int64_t columns = s.B * s.H * s.F;
  if ((columns + kThreads - 1) / kThreads > 0x7fffffff)
    throw UserError("reference kda_recurrent on CUDA: more columns than one grid takes");
  const int64_t rows = s.B * s.H * s.T;
  DeviceBuffer<float> q(Q, count(rows, s.E)), k(K, count(rows, s.E)), v(V, count(rows, s.F)), ga(GA, count(rows, s.E)),
      gb(GB, count(rows)), o(count(rows, s.F));
  kda_kernel<<<static_cast<unsigned>((columns + kThreads - 1) / kThreads), kThreads>>>(
      s, q.get(), k.get(), v.get(), ga.get(), gb.get(), o.get(), round_of(out_dtype));
  check_launch("kda_kernel");
  o.download(O);
}

void selective_scan(DType out_dtype, const ScanShape& s, const float* X, const float* DT, const float* DTB,
                    const float* ALOG, const float* BM, const float* CM, const float* DS, float* Y) {
  require_device("selective_scan");
  if (s.N > kMaxState)
    throw UserError("reference selective_scan on CUDA: a state of " + std::to_string(s.N) + " exceeds " +
                    std::to_string(kMaxState) + " per channel");
  const int64_t sequences = s.B * s.D;
  if ((sequences + kThreads - 1) / kThreads > 0x7fffffff)
    throw UserError("reference selective_scan on CUDA: more sequences than one grid takes");
  DeviceBuffer<float> x(X, count(s.B * s.T, s.D)), dt(DT, count(s.B * s.T, s.D)), dtb(DTB, count(s.D)),
      alog(ALOG, count(s.D, s.N)), bm(BM, count(s.B * s.T, s.N)), cm(CM, count(s.B * s.T, s.N)), ds(DS, count(s.D)),
      y(count(s.B * s.T, s.D));
  scan_kernel<<<static_cast<unsigned>((sequences + kThreads - 1) / kThreads), kThreads>>>(
      s, x.get(), dt.get(), dtb.get(), alog.get(), bm.get(), cm.get(), ds.get(), y.get(), round_of(out_dtype));
  check_launch("scan_kernel");
  y.download(Y);
}

}  // namespace einsim::reference::cuda
