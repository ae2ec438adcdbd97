// Built in place of cuda/*.cu when no CUDA compiler was found: no GPU is ever available, and every CUDA kernel
// throws, so that everything else builds and links the same way.
#include "common/error.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {

bool cuda_available(std::string* /*device_name*/) { return false; }

namespace cuda {
namespace {

[[noreturn]] void unavailable(const char* kernel) {
  throw InternalError(
      std::string("reference ") + kernel +
      " on CUDA: einsim was built without CUDA (no nvcc when it was configured); check cuda_available() first");
}

}  // namespace

void attention_naive(DType, const AttentionShape&, const float*, const float*, const float*, float*) {
  unavailable("attention_naive");
}
void attention_tiled(DType, const AttentionShape&, int64_t, const float*, const float*, const float*, float*) {
  unavailable("attention_tiled");
}
void attention_split(DType, const AttentionShape&, int64_t, int64_t, const float*, const float*, const float*, float*) {
  unavailable("attention_split");
}
void attention_pruned(DType, const AttentionShape&, int64_t, int64_t, const float*, const float*, const float*,
                      const float*, const float*, float*) {
  unavailable("attention_pruned");
}
void topk_gather(DType, int64_t, int64_t, int64_t, int64_t, const float*, const float*, float*) {
  unavailable("topk_gather");
}
void gemm(DType, int64_t, int64_t, int64_t, const float*, const float*, float*) { unavailable("gemm"); }
void gemm_cublas(DType, DType, int64_t, int64_t, int64_t, const float*, const float*, float*) {
  unavailable("gemm_cublas");
}
void ffn_gelu(DType, int64_t, int64_t, int64_t, const float*, const float*, const float*, float*) {
  unavailable("ffn_gelu");
}
void ffn_swiglu(DType, int64_t, int64_t, int64_t, const float*, const float*, const float*, const float*, float*) {
  unavailable("ffn_swiglu");
}
void layernorm(DType, int64_t, int64_t, double, const float*, const float*, const float*, float*) {
  unavailable("layernorm");
}
void rmsnorm(DType, int64_t, int64_t, double, const float*, const float*, float*) { unavailable("rmsnorm"); }
void selective_scan(DType, const ScanShape&, const float*, const float*, const float*, const float*, const float*,
                    const float*, const float*, float*) {
  unavailable("selective_scan");
}
void kda_recurrent(DType, const KdaShape&, const float*, const float*, const float*, const float*, const float*,
                   float*) {
  unavailable("kda_recurrent");
}
void gemm_int8(int64_t, int64_t, int64_t, const int8_t*, const int8_t*, int32_t*) { unavailable("gemm_int8"); }
void gemm_w4a16(DType, int64_t, int64_t, int64_t, int64_t, const float*, const uint8_t*, const float*, const uint8_t*,
                float*) {
  unavailable("gemm_w4a16");
}
void gemm_fp8_e4m3(DType, int64_t, int64_t, int64_t, const float*, const float*, float, float, float*) {
  unavailable("gemm_fp8_e4m3");
}

}  // namespace cuda
}  // namespace einsim::reference
