#pragma once
// Shared by the CUDA reference kernels: error checks that throw, device buffers, rounding to the output dtype
// with CUDA's own conversions, and the strided tiled GEMM most kernels are built from.
// The library is compiled with --fmad=false: a product is rounded before it is added, as on the CPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.hpp"
#include "workloads/dtype.hpp"

namespace einsim::reference::cuda {

// Throws InternalError naming the call and CUDA's message.
void check(cudaError_t err, const char* what);
// Throws InternalError unless a usable GPU is present.
void require_device(const char* kernel);
// After a kernel launch: launch errors and, once it finished, execution errors.
void check_launch(const char* kernel);

// Device memory for n values of T, freed on destruction.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n_ > 0) check(cudaMalloc(reinterpret_cast<void**>(&data_), n_ * sizeof(T)), "cudaMalloc");
  }
  DeviceBuffer(const T* host, size_t n) : DeviceBuffer(n) {
    if (n_ > 0) check(cudaMemcpy(data_, host, n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to the GPU");
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return data_; }
  size_t size() const { return n_; }
  void download(T* host) const {
    if (n_ > 0) check(cudaMemcpy(host, data_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy from the GPU");
  }

 private:
  size_t n_ = 0;
  T* data_ = nullptr;
};

inline size_t count(int64_t a, int64_t b = 1, int64_t c = 1, int64_t d = 1) {
  return static_cast<size_t>(a * b * c * d);
}

// What an output is rounded to on the device (kernels take this rather than DType, a host-side enum).
enum class Round : int { fp32, bf16, fp16 };
Round round_of(DType t);  // fp32, bf16 or fp16; checked by the public functions

__device__ __forceinline__ float round_out(float x, Round r) {
  switch (r) {
    case Round::bf16:
      return __bfloat162float(__float2bfloat16_rn(x));
    case Round::fp16:
      return __half2float(__float2half_rn(x));
    case Round::fp32:
      break;
  }
  return x;
}

// The max (or sum) of x over the threads of a block whose size is a power of two; scratch holds a float a
// thread. Every thread must call it.
__device__ __forceinline__ float block_reduce(float x, bool max, float* scratch) {
  const unsigned t = threadIdx.x;
  scratch[t] = x;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] = max ? fmaxf(scratch[t], scratch[t + half]) : scratch[t] + scratch[t + half];
    __syncthreads();
  }
  const float result = scratch[0];
  __syncthreads();  // scratch is reused by the next reduction
  return result;
}

// A matrix in device memory with element (r, c) at data[r * row_stride + c * col_stride], so that one kernel
// reads transposed and offset operands (a head's Q^T, a chunk of scores) without copies.
struct MatIn {
  const float* data;
  int64_t row_stride;
  int64_t col_stride;
};
struct MatOut {
  float* data;
  int64_t row_stride;
  int64_t col_stride;
};

// C[i,j] = round(alpha * sum_k A[i,k] B[k,j]) with the sum in fp32, k in order, on the default stream.
void strided_gemm(int64_t M, int64_t N, int64_t K, MatIn A, MatIn B, MatOut C, float alpha, Round r);

}  // namespace einsim::reference::cuda
