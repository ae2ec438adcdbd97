// Whether a GPU can run these kernels, and the error handling every CUDA kernel shares.
#include <string>

#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/kernels.hpp"

namespace einsim::reference {
namespace cuda {
namespace {

__global__ void probe_kernel() {}

struct Availability {
  bool ok = false;
  std::string device;
};

// Asked once: no driver, no device, or no kernel image for the device (built for other architectures) all mean
// unavailable. The errors are cleared so that they do not surface at a later, unrelated call.
Availability probe() {
  Availability a;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < 1) {
    cudaGetLastError();
    return a;
  }
  cudaDeviceProp prop{};
  cudaFuncAttributes attrs{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || cudaFuncGetAttributes(&attrs, probe_kernel) != cudaSuccess) {
    cudaGetLastError();
    return a;
  }
  a.ok = true;
  a.device = std::string(prop.name) + " (compute capability " + std::to_string(prop.major) + "." +
             std::to_string(prop.minor) + ")";
  return a;
}

const Availability& availability() {
  static const Availability a = probe();
  return a;
}

}  // namespace

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw InternalError(std::string("CUDA reference kernels: ") + what + ": " + cudaGetErrorString(err));
}

void require_device(const char* kernel) {
  if (!availability().ok)
    throw InternalError(std::string("reference ") + kernel +
                        " on CUDA: no CUDA GPU is available; check cuda_available() first");
}

void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
  check(cudaDeviceSynchronize(), kernel);
}

Round round_of(DType t) {
  if (t == DType::bf16) return Round::bf16;
  if (t == DType::fp16) return Round::fp16;
  if (t == DType::fp32) return Round::fp32;
  throw InternalError(std::string("CUDA reference kernels: no rounding to ") + std::string(dtype_name(t)));
}

}  // namespace cuda

bool cuda_available(std::string* device_name) {
  const cuda::Availability& a = cuda::availability();
  if (a.ok && device_name) *device_name = a.device;
  return a.ok;
}

}  // namespace einsim::reference
