// GEMMs on the GPU: a strided shared-memory tiled kernel (which the FFNs, the quantized GEMMs and naive
// attention reuse), cuBLAS, and an exact int8 kernel.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <climits>
#include <string>

#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference::cuda {
namespace {

// A block computes a kTile x kTile tile of C with 16 x 16 threads, 4 x 4 outputs each, staging kDepth values of
// k at a time. Every output is summed over k in order, so the results equal the CPU's left fold.
constexpr int kTile = 64;
constexpr int kDepth = 16;
constexpr int kSide = 16;  // threads per side
constexpr int kPer = kTile / kSide;

__global__ void __launch_bounds__(kSide* kSide)
    strided_gemm_kernel(int64_t M, int64_t N, int64_t K, MatIn A, MatIn B, MatOut C, float alpha, Round r) {
  __shared__ float as[kDepth][kTile + 1];  // as[k][i]; the padding spreads a column over the banks
  __shared__ float bs[kDepth][kTile + 1];  // bs[k][j]
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int tid = ty * kSide + tx;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
  // Neighbouring threads load neighbouring addresses: along k for an operand whose k stride is 1.
  const bool a_along_k = A.col_stride == 1, b_along_k = B.row_stride == 1;
  float acc[kPer][kPer] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kDepth) {
    const int depth = static_cast<int>(K - k0 < kDepth ? K - k0 : kDepth);
    for (int e = tid; e < kDepth * kTile; e += kSide * kSide) {
      int kk = a_along_k ? e % kDepth : e / kTile, x = a_along_k ? e / kDepth : e % kTile;
      as[kk][x] = (i0 + x < M && kk < depth) ? A.data[(i0 + x) * A.row_stride + (k0 + kk) * A.col_stride] : 0.0f;
      kk = b_along_k ? e % kDepth : e / kTile;
      x = b_along_k ? e / kDepth : e % kTile;
      bs[kk][x] = (j0 + x < N && kk < depth) ? B.data[(k0 + kk) * B.row_stride + (j0 + x) * B.col_stride] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < depth; ++kk) {
      float a[kPer], b[kPer];
#pragma unroll
      for (int u = 0; u < kPer; ++u) {
        a[u] = as[kk][ty + kSide * u];
        b[u] = bs[kk][tx + kSide * u];
      }
#pragma unroll
      for (int u = 0; u < kPer; ++u)
#pragma unroll
        for (int v = 0; v < kPer; ++v) acc[u][v] = __fadd_rn(acc[u][v], __fmul_rn(a[u], b[v]));
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < kPer; ++u)
#pragma unroll
    for (int v = 0; v < kPer; ++v) {
      const int64_t i = i0 + ty + kSide * u, j = j0 + tx + kSide * v;
      if (i < M && j < N) C.data[i * C.row_stride + j * C.col_stride] = round_out(__fmul_rn(alpha, acc[u][v]), r);
    }
}

__global__ void gemm_int8_kernel(int64_t M, int64_t N, int64_t K, const int8_t* A, const int8_t* B, int32_t* C) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t i = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;
  if (i >= M || j >= N) return;
  long long acc = 0;
  for (int64_t k = 0; k < K; ++k) acc += static_cast<long long>(A[i * K + k]) * static_cast<long long>(B[k * N + j]);
  C[i * N + j] = static_cast<int32_t>(acc > INT_MAX ? INT_MAX : acc < INT_MIN ? INT_MIN : acc);
}

__global__ void dequantize_w4_kernel(int64_t K, int64_t N, int64_t group, const uint8_t* Wq, const float* scales,
                                     const uint8_t* zeros, float* W) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < K * N;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t g = (e / N / group) * N + e % N;
    const float centered = static_cast<float>(static_cast<int>(Wq[e]) - static_cast<int>(zeros[g]));
    W[e] = __bfloat162float(__float2bfloat16_rn(__fmul_rn(centered, scales[g])));
  }
}

__global__ void round_kernel(int64_t n, float* x, Round r) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[e] = round_out(x[e], r);
}

__global__ void to_bf16_kernel(int64_t n, const float* x, __nv_bfloat16* y) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[e] = __float2bfloat16_rn(x[e]);
}

__global__ void to_fp16_kernel(int64_t n, const float* x, __half* y) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    y[e] = __float2half_rn(x[e]);
}

// Written as the CPU writes them (and apply_op in workloads/cascade.hpp); erff and expf are CUDA's own.
__global__ void gelu_kernel(int64_t n, float* x) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[e] = 0.5f * x[e] * (1.0f + erff(x[e] / sqrtf(2.0f)));
}

// g = silu(g) * u
__global__ void swiglu_kernel(int64_t n, float* g, const float* u) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    g[e] = g[e] / (1.0f + expf(-g[e])) * u[e];
}

constexpr int kElementwiseThreads = 256;

unsigned elementwise_blocks(int64_t n) {
  const int64_t blocks = (n + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);  // grid-stride loops cover the rest
}

MatIn in_rows(const float* data, int64_t cols) { return {data, cols, 1}; }  // row-major, `cols` to a row
MatOut out_rows(float* data, int64_t cols) { return {data, cols, 1}; }

// cuBLAS is opened on first use rather than linked: its static initializers take about a quarter of a second,
// which every einsim command would otherwise pay.
struct Cublas {
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  // The C entry point (cublas_api.h also declares a C++ overload taking the compute type as cudaDataType).
  using GemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                                    const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                                    cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  GemmEx gemm_ex = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;

  static const Cublas& get() {
    static const Cublas c = open();
    return c;
  }

 private:
  static Cublas open() {
    const std::string name = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      throw InternalError("CUDA reference kernels: cannot load " + name +
                          " (is cuBLAS on the library path?): " + dlerror());
    Cublas c;
    c.create = reinterpret_cast<decltype(c.create)>(symbol(lib, "cublasCreate_v2"));
    c.destroy = reinterpret_cast<decltype(c.destroy)>(symbol(lib, "cublasDestroy_v2"));
    c.gemm_ex = reinterpret_cast<decltype(c.gemm_ex)>(symbol(lib, "cublasGemmEx"));
    c.status_string = reinterpret_cast<decltype(c.status_string)>(symbol(lib, "cublasGetStatusString"));
    return c;
  }
  static void* symbol(void* lib, const char* name) {
    void* f = dlsym(lib, name);
    if (!f) throw InternalError(std::string("CUDA reference kernels: cuBLAS lacks ") + name);
    return f;
  }
};

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw InternalError(std::string("CUDA reference kernels: ") + what + ": " + Cublas::get().status_string(status));
}

class CublasHandle {
 public:
  CublasHandle() { check_cublas(Cublas::get().create(&handle_), "cublasCreate"); }
  ~CublasHandle() { Cublas::get().destroy(handle_); }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

}  // namespace

void strided_gemm(int64_t M, int64_t N, int64_t K, MatIn A, MatIn B, MatOut C, float alpha, Round r) {
  const int64_t rows = (M + kTile - 1) / kTile, cols = (N + kTile - 1) / kTile;
  if (rows > 65535 || cols > INT_MAX)
    throw UserError("reference GEMM on CUDA: " + std::to_string(M) + " x " + std::to_string(N) +
                    " is too large for one grid");
  strided_gemm_kernel<<<dim3(static_cast<unsigned>(cols), static_cast<unsigned>(rows)), dim3(kSide, kSide)>>>(
      M, N, K, A, B, C, alpha, r);
  check_launch("strided_gemm_kernel");
}

void gemm(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  require_device("gemm");
  DeviceBuffer<float> a(A, count(M, K)), b(B, count(K, N)), c(count(M, N));
  strided_gemm(M, N, K, in_rows(a.get(), K), in_rows(b.get(), N), out_rows(c.get(), N), 1.0f, round_of(out_dtype));
  c.download(C);
}

void gemm_cublas(DType in_dtype, DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                 float* C) {
  require_device("gemm_cublas");
  if (M > INT_MAX || N > INT_MAX || K > INT_MAX) throw UserError("reference gemm_cublas: sizes must fit cuBLAS's int");
  DeviceBuffer<float> a(A, count(M, K)), b(B, count(K, N)), c(count(M, N));
  // bf16 and fp16 inputs are converted on the device, 2 bytes a value.
  DeviceBuffer<uint16_t> a16(in_dtype == DType::fp32 ? 0 : count(M, K)), b16(in_dtype == DType::fp32 ? 0 : count(K, N));
  const void* pa = a.get();
  const void* pb = b.get();
  cudaDataType_t type = CUDA_R_32F;
  if (in_dtype == DType::bf16) {
    to_bf16_kernel<<<elementwise_blocks(M * K), kElementwiseThreads>>>(M * K, a.get(),
                                                                       reinterpret_cast<__nv_bfloat16*>(a16.get()));
    to_bf16_kernel<<<elementwise_blocks(K * N), kElementwiseThreads>>>(K * N, b.get(),
                                                                       reinterpret_cast<__nv_bfloat16*>(b16.get()));
    check_launch("to_bf16_kernel");
    type = CUDA_R_16BF;
  } else if (in_dtype == DType::fp16) {
    to_fp16_kernel<<<elementwise_blocks(M * K), kElementwiseThreads>>>(M * K, a.get(),
                                                                       reinterpret_cast<__half*>(a16.get()));
    to_fp16_kernel<<<elementwise_blocks(K * N), kElementwiseThreads>>>(K * N, b.get(),
                                                                       reinterpret_cast<__half*>(b16.get()));
    check_launch("to_fp16_kernel");
    type = CUDA_R_16F;
  }
  if (type != CUDA_R_32F) {
    pa = a16.get();
    pb = b16.get();
  }
  CublasHandle handle;
  const float alpha = 1.0f, beta = 0.0f;
  // Row-major C = A B is column-major C^T = B^T A^T: B first, and every leading dimension a row length.
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  check_cublas(Cublas::get().gemm_ex(handle.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, pb, type, n, pa, type, k,
                                     &beta, c.get(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
  check(cudaDeviceSynchronize(), "cublasGemmEx");
  round_kernel<<<elementwise_blocks(M * N), kElementwiseThreads>>>(M * N, c.get(), round_of(out_dtype));
  check_launch("round_kernel");
  c.download(C);
}

void ffn_gelu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W2,
              float* Y) {
  require_device("ffn_gelu");
  DeviceBuffer<float> x(X, count(N, D)), w1(W1, count(D, FF)), w2(W2, count(FF, D)), h(count(N, FF)), y(count(N, D));
  strided_gemm(N, FF, D, in_rows(x.get(), D), in_rows(w1.get(), FF), out_rows(h.get(), FF), 1.0f, Round::fp32);
  gelu_kernel<<<elementwise_blocks(N * FF), kElementwiseThreads>>>(N * FF, h.get());
  check_launch("gelu_kernel");
  strided_gemm(N, D, FF, in_rows(h.get(), FF), in_rows(w2.get(), D), out_rows(y.get(), D), 1.0f, round_of(out_dtype));
  y.download(Y);
}

void ffn_swiglu(DType out_dtype, int64_t N, int64_t D, int64_t FF, const float* X, const float* W1, const float* W3,
                const float* W2, float* Y) {
  require_device("ffn_swiglu");
  DeviceBuffer<float> x(X, count(N, D)), w1(W1, count(D, FF)), w3(W3, count(D, FF)), w2(W2, count(FF, D));
  DeviceBuffer<float> g(count(N, FF)), u(count(N, FF)), y(count(N, D));
  strided_gemm(N, FF, D, in_rows(x.get(), D), in_rows(w1.get(), FF), out_rows(g.get(), FF), 1.0f, Round::fp32);
  strided_gemm(N, FF, D, in_rows(x.get(), D), in_rows(w3.get(), FF), out_rows(u.get(), FF), 1.0f, Round::fp32);
  swiglu_kernel<<<elementwise_blocks(N * FF), kElementwiseThreads>>>(N * FF, g.get(), u.get());
  check_launch("swiglu_kernel");
  strided_gemm(N, D, FF, in_rows(g.get(), FF), in_rows(w2.get(), D), out_rows(y.get(), D), 1.0f, round_of(out_dtype));
  y.download(Y);
}

void gemm_int8(int64_t M, int64_t N, int64_t K, const int8_t* A, const int8_t* B, int32_t* C) {
  require_device("gemm_int8");
  DeviceBuffer<int8_t> a(A, count(M, K)), b(B, count(K, N));
  DeviceBuffer<int32_t> c(count(M, N));
  const dim3 threads(16, 16);
  const int64_t rows = (M + 15) / 16, cols = (N + 15) / 16;
  if (rows > 65535 || cols > INT_MAX)
    throw UserError("reference gemm_int8 on CUDA: " + std::to_string(M) + " x " + std::to_string(N) +
                    " is too large for one grid");
  gemm_int8_kernel<<<dim3(static_cast<unsigned>(cols), static_cast<unsigned>(rows)), threads>>>(M, N, K, a.get(),
                                                                                                b.get(), c.get());
  check_launch("gemm_int8_kernel");
  c.download(C);
}

void gemm_w4a16(DType out_dtype, int64_t M, int64_t N, int64_t K, int64_t group, const float* A, const uint8_t* Wq,
                const float* scales, const uint8_t* zeros, float* C) {
  require_device("gemm_w4a16");
  DeviceBuffer<float> a(A, count(M, K)), s(scales, count(K / group, N)), w(count(K, N)), c(count(M, N));
  DeviceBuffer<uint8_t> q(Wq, count(K, N)), z(zeros, count(K / group, N));
  dequantize_w4_kernel<<<elementwise_blocks(K * N), kElementwiseThreads>>>(K, N, group, q.get(), s.get(), z.get(),
                                                                           w.get());
  check_launch("dequantize_w4_kernel");
  strided_gemm(M, N, K, in_rows(a.get(), K), in_rows(w.get(), N), out_rows(c.get(), N), 1.0f, round_of(out_dtype));
  c.download(C);
}

void gemm_fp8_e4m3(DType out_dtype, int64_t M, int64_t N, int64_t K, const float* A, const float* B, float scale_a,
                   float scale_b, float* C) {
  require_device("gemm_fp8_e4m3");
  DeviceBuffer<float> a(A, count(M, K)), b(B, count(K, N)), c(count(M, N));
  strided_gemm(M, N, K, in_rows(a.get(), K), in_rows(b.get(), N), out_rows(c.get(), N), scale_a * scale_b,
               round_of(out_dtype));
  c.download(C);
}

}  // namespace einsim::reference::cuda
