// LayerNorm and RMSNorm on the GPU: a block per row, sums by tree reduction (so in another order than the CPU's).
#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    layernorm_kernel(int64_t D, float eps, const float* X, const float* gamma, const float* beta, float* Y, Round r) {
  __shared__ float scratch[kThreads];
  const float* x = X + static_cast<int64_t>(blockIdx.x) * D;
  float* y = Y + static_cast<int64_t>(blockIdx.x) * D;
  float local = 0;
  for (int64_t d = threadIdx.x; d < D; d += kThreads) local += x[d];
  const float mean = block_reduce(local, false, scratch) / static_cast<float>(D);
  local = 0;
  for (int64_t d = threadIdx.x; d < D; d += kThreads) local += (x[d] - mean) * (x[d] - mean);
  const float rs = 1.0f / sqrtf(block_reduce(local, false, scratch) / static_cast<float>(D) + eps);
  for (int64_t d = threadIdx.x; d < D; d += kThreads) y[d] = round_out((x[d] - mean) * rs * gamma[d] + beta[d], r);
}

__global__ void __launch_bounds__(kThreads)
    rmsnorm_kernel(int64_t D, float eps, const float* X, const float* gamma, float* Y, Round r) {
  __shared__ float scratch[kThreads];
  const float* x = X + static_cast<int64_t>(blockIdx.x) * D;
  float* y = Y + static_cast<int64_t>(blockIdx.x) * D;
  float local = 0;
  for (int64_t d = threadIdx.x; d < D; d += kThreads) local += x[d] * x[d];
  const float rs = 1.0f / sqrtf(block_reduce(local, false, scratch) / static_cast<float>(D) + eps);
  for (int64_t d = threadIdx.x; d < D; d += kThreads) y[d] = round_out(x[d] * rs * gamma[d], r);
}

void check_rows(const char* kernel, int64_t N) {
  if (N > 0x7fffffff) throw UserError(std::string("reference ") + kernel + " on CUDA: more rows than one grid takes");
}

}  // namespace

void layernorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, const float* beta,
               float* Y) {
  require_device("layernorm");
  check_rows("layernorm", N);
  DeviceBuffer<float> x(X, count(N, D)), g(gamma, count(D)), b(beta, count(D)), y(count(N, D));
  layernorm_kernel<<<static_cast<unsigned>(N), kThreads>>>(D, static_cast<float>(eps), x.get(), g.get(), b.get(),
                                                           y.get(), round_of(out_dtype));
  check_launch("layernorm_kernel");
  y.download(Y);
}

void rmsnorm(DType out_dtype, int64_t N, int64_t D, double eps, const float* X, const float* gamma, float* Y) {
  require_device("rmsnorm");
  check_rows("rmsnorm", N);
  DeviceBuffer<float> x(X, count(N, D)), g(gamma, count(D)), y(count(N, D));
  rmsnorm_kernel<<<static_cast<unsigned>(N), kThreads>>>(D, static_cast<float>(eps), x.get(), g.get(), y.get(),
                                                         round_of(out_dtype));
  check_launch("rmsnorm_kernel");
  y.download(Y);
}

}  // namespace einsim::reference::cuda
