// Attention on the GPU. Naive: per (batch, head), the scores of a chunk of queries go to global memory (a
// strided GEMM), a block per query row takes the softmax, and a second GEMM multiplies by V. Tiled: one block
// per (batch, head, 32 queries), one thread per query, K and V staged through shared memory; each tile of
// tile_m keys is read twice, once for its max and once for the exponentials, so that shared memory does not
// grow with tile_m.
#include <cmath>
#include <string>

#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference::cuda {
namespace {

// Scores of at most 2^28 floats (1 GiB) at a time: M = P = 65536 takes chunks of 4096 queries.
constexpr int64_t kScoreBudget = int64_t{1} << 28;
constexpr int64_t kMaxChunk = int64_t{1} << 20;  // and few enough rows for one GEMM grid
constexpr int kSoftmaxThreads = 256;

// Row r of `scores` ([rows, M]) holds query p0 + r's scores; it becomes that query's softmax, 0 on masked keys.
__global__ void __launch_bounds__(kSoftmaxThreads)
    softmax_rows_kernel(float* scores, int64_t M, int64_t P, int64_t p0, bool causal) {
  __shared__ float scratch[kSoftmaxThreads];
  float* s = scores + static_cast<int64_t>(blockIdx.x) * M;
  const int64_t p = p0 + blockIdx.x;
  const int64_t visible = causal ? p + (M - P) + 1 : M;
  float local = -INFINITY;
  for (int64_t m = threadIdx.x; m < visible; m += kSoftmaxThreads) local = fmaxf(local, s[m]);
  const float gm = block_reduce(local, true, scratch);
  local = 0;
  for (int64_t m = threadIdx.x; m < visible; m += kSoftmaxThreads) {
    s[m] = expf(s[m] - gm);
    local += s[m];
  }
  const float sd = block_reduce(local, false, scratch);
  for (int64_t m = threadIdx.x; m < M; m += kSoftmaxThreads) s[m] = m < visible ? s[m] / sd : 0.0f;
}

constexpr int kQueries = 32;  // per block of the tiled kernel, one thread each
constexpr int kKeys = 32;     // keys staged in shared memory at a time

// sum_e Q[e,p] K[e,m], products rounded and summed in e order, as the CPU and the naive kernel's GEMM do.
__device__ __forceinline__ float score(const float* qs, const float* ks, int t, int j, int64_t E) {
  float acc = 0;
  for (int64_t e = 0; e < E; ++e) acc = __fadd_rn(acc, __fmul_rn(qs[e * kQueries + t], ks[e * kKeys + j]));
  return acc;
}

__global__ void __launch_bounds__(kQueries)
    attention_tiled_kernel(AttentionShape s, int64_t tile_m, const float* Q, const float* K, const float* V, float* out,
                           Round r) {
  extern __shared__ float smem[];
  float* qs = smem;                 // [E][kQueries]
  float* ks = qs + s.E * kQueries;  // [E][kKeys]
  float* vs = ks + s.E * kKeys;     // [F][kKeys]
  float* acc = vs + s.F * kKeys;    // [F][kQueries]: each thread's running numerator
  const int t = static_cast<int>(threadIdx.x);
  const int64_t p0 = static_cast<int64_t>(blockIdx.x) * kQueries, h = blockIdx.y, b = blockIdx.z;
  const int64_t kh = h / (s.H / s.KH);
  const float* q = Q + (b * s.H + h) * s.E * s.P;
  const float* k = K + (b * s.KH + kh) * s.E * s.M;
  const float* v = V + (b * s.KH + kh) * s.F * s.M;
  const int64_t p = p0 + t;
  const bool valid = p < s.P;
  for (int64_t e = 0; e < s.E; ++e) qs[e * kQueries + t] = valid ? q[e * s.P + p] : 0.0f;
  for (int64_t f = 0; f < s.F; ++f) acc[f * kQueries + t] = 0.0f;
  // Keys this thread sees, and keys any thread of the block sees (the loops below must be the same for all).
  const int64_t visible = !valid ? 0 : s.causal ? p + (s.M - s.P) + 1 : s.M;
  const int64_t last_p = (p0 + kQueries < s.P ? p0 + kQueries : s.P) - 1;
  const int64_t block_visible = s.causal ? last_p + (s.M - s.P) + 1 : s.M;

  auto stage = [&](int64_t c0, int64_t n, bool with_v) {
    __syncthreads();  // the previous chunk's readers are done
    for (int64_t i = t; i < s.E * kKeys; i += kQueries) {
      const int64_t j = i % kKeys;
      ks[i] = j < n ? k[(i / kKeys) * s.M + c0 + j] : 0.0f;
    }
    if (with_v)
      for (int64_t i = t; i < s.F * kKeys; i += kQueries) {
        const int64_t j = i % kKeys;
        vs[i] = j < n ? v[(i / kKeys) * s.M + c0 + j] : 0.0f;
      }
    __syncthreads();
  };

  float rm = -INFINITY, rd = 0;
  for (int64_t t0 = 0; t0 < block_visible; t0 += tile_m) {
    const int64_t t1 = t0 + tile_m < block_visible ? t0 + tile_m : block_visible;
    float lm = -INFINITY;  // the tile's max
    for (int64_t c0 = t0; c0 < t1; c0 += kKeys) {
      const int64_t n = t1 - c0 < kKeys ? t1 - c0 : kKeys;
      stage(c0, n, false);
      for (int j = 0; j < n; ++j)
        if (c0 + j < visible) lm = fmaxf(lm, score(qs, ks, t, j, s.E));
    }
    const float rm_next = fmaxf(rm, lm);
    // Rescale what came before (exp(-inf) = 0 at the first tile); a thread that has seen no key keeps its zeros.
    const float prm = rm_next == -INFINITY ? 1.0f : expf(rm - rm_next);
    for (int64_t f = 0; f < s.F; ++f) acc[f * kQueries + t] *= prm;
    float sld = 0;
    for (int64_t c0 = t0; c0 < t1; c0 += kKeys) {
      const int64_t n = t1 - c0 < kKeys ? t1 - c0 : kKeys;
      stage(c0, n, true);
      for (int j = 0; j < n; ++j) {
        if (c0 + j >= visible) continue;
        const float x = expf(score(qs, ks, t, j, s.E) - rm_next);
        sld += x;
        for (int64_t f = 0; f < s.F; ++f) acc[f * kQueries + t] += x * vs[f * kKeys + j];
      }
    }
    rd = sld + rd * prm;
    rm = rm_next;
  }
  if (valid)
    for (int64_t f = 0; f < s.F; ++f)
      out[(b * s.H + h) * s.F * s.P + f * s.P + p] = round_out(acc[f * kQueries + t] / rd, r);
}

}  // namespace

void attention_naive(DType out_dtype, const AttentionShape& s, const float* Q, const float* K, const float* V,
                     float* out) {
  require_device("attention_naive");
  DeviceBuffer<float> q(Q, count(s.B, s.H, s.E, s.P)), k(K, count(s.B, s.KH, s.E, s.M)),
      v(V, count(s.B, s.KH, s.F, s.M));
  DeviceBuffer<float> o(count(s.B, s.H, s.F, s.P));
  int64_t chunk = kScoreBudget / s.M;
  chunk = chunk < 1 ? 1 : chunk > kMaxChunk ? kMaxChunk : chunk;
  chunk = chunk < s.P ? chunk : s.P;
  DeviceBuffer<float> scores(count(chunk, s.M));
  const Round r = round_of(out_dtype);
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t kh = h / (s.H / s.KH);
      const float* qh = q.get() + (b * s.H + h) * s.E * s.P;
      const float* kv = k.get() + (b * s.KH + kh) * s.E * s.M;
      const float* vv = v.get() + (b * s.KH + kh) * s.F * s.M;
      float* oh = o.get() + (b * s.H + h) * s.F * s.P;
      for (int64_t p0 = 0; p0 < s.P; p0 += chunk) {
        const int64_t rows = s.P - p0 < chunk ? s.P - p0 : chunk;
        // scores[p,m] = sum_e Q[e,p0+p] K[e,m]: Q read transposed.
        strided_gemm(rows, s.M, s.E, MatIn{qh + p0, 1, s.P}, MatIn{kv, s.M, 1}, MatOut{scores.get(), s.M, 1}, 1.0f,
                     Round::fp32);
        softmax_rows_kernel<<<static_cast<unsigned>(rows), kSoftmaxThreads>>>(scores.get(), s.M, s.P, p0, s.causal);
        check_launch("softmax_rows_kernel");
        // out[f,p0+p] = sum_m V[f,m] scores[p,m]: the scores read transposed.
        strided_gemm(s.F, rows, s.M, MatIn{vv, s.M, 1}, MatIn{scores.get(), 1, s.M}, MatOut{oh + p0, s.P, 1}, 1.0f, r);
      }
    }
  o.download(out);
}

void attention_tiled(DType out_dtype, const AttentionShape& s, int64_t tile_m, const float* Q, const float* K,
                     const float* V, float* out) {
  require_device("attention_tiled");
  if (s.H > 65535 || s.B > 65535) throw UserError("reference attention_tiled on CUDA: B and H must be at most 65535");
  const size_t shared = sizeof(float) * static_cast<size_t>((s.E + s.F) * (kQueries + kKeys));
  int optin = 0;
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0), "cudaDeviceGetAttribute");
  if (shared > static_cast<size_t>(optin))
    throw UserError("reference attention_tiled on CUDA: E + F = " + std::to_string(s.E + s.F) + " needs " +
                    std::to_string(shared) + " bytes of shared memory, more than the GPU's " + std::to_string(optin));
  check(cudaFuncSetAttribute(attention_tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(shared)),
        "cudaFuncSetAttribute");
  DeviceBuffer<float> q(Q, count(s.B, s.H, s.E, s.P)), k(K, count(s.B, s.KH, s.E, s.M)),
      v(V, count(s.B, s.KH, s.F, s.M));
  DeviceBuffer<float> o(count(s.B, s.H, s.F, s.P));
  const dim3 grid(static_cast<unsigned>((s.P + kQueries - 1) / kQueries), static_cast<unsigned>(s.H),
                  static_cast<unsigned>(s.B));
  attention_tiled_kernel<<<grid, kQueries, shared>>>(s, tile_m, q.get(), k.get(), v.get(), o.get(),
                                                     round_of(out_dtype));
  check_launch("attention_tiled_kernel");
  o.download(out);
}

}  // namespace einsim::reference::cuda
