// Mamba's selective scan on the GPU: a thread per (batch, channel) sequence walks t in order, its state in
// registers (N at most kMaxState). The same order of operations as the CPU's; exp and log1p may differ in the
// last bit.
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

}  // namespace

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
