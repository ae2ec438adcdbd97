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

// Where a part of the keys leaves its running max, denominator and numerator, per (batch, head, query, part).
struct Partials {
  float* m = nullptr;   // [B, H, P, splits]
  float* d = nullptr;   // [B, H, P, splits]
  float* nv = nullptr;  // [B, H, P, splits, F]
};

// A block of kQueries queries of one (batch, head) over one part of the keys: blockIdx.x is the query block times
// `splits` plus the part. One part (splits = 1) writes the output; more write their partials for the combine.
__global__ void __launch_bounds__(kQueries)
    attention_tiled_kernel(AttentionShape s, int64_t tile_m, int64_t splits, int64_t part_len, const float* Q,
                           const float* K, const float* V, float* out, Partials partials, Round r) {
  extern __shared__ float smem[];
  float* qs = smem;                 // [E][kQueries]
  float* ks = qs + s.E * kQueries;  // [E][kKeys]
  float* vs = ks + s.E * kKeys;     // [F][kKeys]
  float* acc = vs + s.F * kKeys;    // [F][kQueries]: each thread's running numerator
  const int t = static_cast<int>(threadIdx.x);
  const int64_t split = static_cast<int64_t>(blockIdx.x) % splits;
  const int64_t p0 = static_cast<int64_t>(blockIdx.x) / splits * kQueries, h = blockIdx.y, b = blockIdx.z;
  const int64_t kh = h / (s.H / s.KH);
  const float* q = Q + (b * s.H + h) * s.E * s.P;
  const float* k = K + (b * s.KH + kh) * s.E * s.M;
  const float* v = V + (b * s.KH + kh) * s.F * s.M;
  const int64_t p = p0 + t;
  const bool valid = p < s.P;
  for (int64_t e = 0; e < s.E; ++e) qs[e * kQueries + t] = valid ? q[e * s.P + p] : 0.0f;
  for (int64_t f = 0; f < s.F; ++f) acc[f * kQueries + t] = 0.0f;
  // Keys of the part this thread sees, [from, visible), and that any thread of the block sees, [from,
  // block_visible) (the loops below must be the same for all).
  const int64_t from = split * part_len, part_end = from + part_len < s.M ? from + part_len : s.M;
  const int64_t seen = !valid ? 0 : s.causal ? p + (s.M - s.P) + 1 : s.M;
  const int64_t visible = seen < part_end ? seen : part_end;
  const int64_t last_p = (p0 + kQueries < s.P ? p0 + kQueries : s.P) - 1;
  const int64_t block_seen = s.causal ? last_p + (s.M - s.P) + 1 : s.M;
  const int64_t block_visible = block_seen < part_end ? block_seen : part_end;

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
  for (int64_t t0 = from; t0 < block_visible; t0 += tile_m) {
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
  if (!valid) return;
  if (splits == 1) {
    for (int64_t f = 0; f < s.F; ++f)
      out[(b * s.H + h) * s.F * s.P + f * s.P + p] = round_out(acc[f * kQueries + t] / rd, r);
    return;
  }
  const int64_t at = ((b * s.H + h) * s.P + p) * splits + split;
  partials.m[at] = rm;
  partials.d[at] = rd;
  for (int64_t f = 0; f < s.F; ++f) partials.nv[at * s.F + f] = acc[f * kQueries + t];
}

// One thread per (batch, head, query): the parts' partials rescaled to the largest max and summed in part order,
// each product rounded before it is added, as the CPU's combine.
__global__ void combine_parts_kernel(AttentionShape s, int64_t splits, Partials partials, float* out, Round r) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= s.B * s.H * s.P) return;
  const int64_t bh = row / s.P, p = row % s.P;
  const float* m = partials.m + row * splits;
  const float* d = partials.d + row * splits;
  const float* nv = partials.nv + row * splits * s.F;
  float gm = -INFINITY;
  for (int64_t i = 0; i < splits; ++i) gm = fmaxf(gm, m[i]);
  float gd = 0;
  for (int64_t i = 0; i < splits; ++i) gd = __fadd_rn(gd, __fmul_rn(d[i], expf(m[i] - gm)));
  for (int64_t f = 0; f < s.F; ++f) {
    float gnv = 0;
    for (int64_t i = 0; i < splits; ++i) gnv = __fadd_rn(gnv, __fmul_rn(nv[i * s.F + f], expf(m[i] - gm)));
    out[bh * s.F * s.P + f * s.P + p] = round_out(gnv / gd, r);
  }
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

namespace {

// attention_tiled (splits = 1) and attention_split: a block per query block and part, then the combine.
void run_parts(const char* name, DType out_dtype, const AttentionShape& s, int64_t tile_m, int64_t splits,
               const float* Q, const float* K, const float* V, float* out) {
  require_device(name);
  if (s.H > 65535 || s.B > 65535)
    throw UserError(std::string("reference ") + name + " on CUDA: B and H must be at most 65535");
  const int64_t x_blocks = (s.P + kQueries - 1) / kQueries * splits;
  if (x_blocks > 2147483647)
    throw UserError(std::string("reference ") + name + " on CUDA: too many query blocks times parts");
  const size_t shared = sizeof(float) * static_cast<size_t>((s.E + s.F) * (kQueries + kKeys));
  int optin = 0;
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0), "cudaDeviceGetAttribute");
  if (shared > static_cast<size_t>(optin))
    throw UserError(std::string("reference ") + name + " on CUDA: E + F = " + std::to_string(s.E + s.F) + " needs " +
                    std::to_string(shared) + " bytes of shared memory, more than the GPU's " + std::to_string(optin));
  check(cudaFuncSetAttribute(attention_tiled_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(shared)),
        "cudaFuncSetAttribute");
  DeviceBuffer<float> q(Q, count(s.B, s.H, s.E, s.P)), k(K, count(s.B, s.KH, s.E, s.M)),
      v(V, count(s.B, s.KH, s.F, s.M));
  DeviceBuffer<float> o(count(s.B, s.H, s.F, s.P));
  const int64_t rows = s.B * s.H * s.P;
  DeviceBuffer<float> pm(splits > 1 ? count(rows, splits) : 1), pd(splits > 1 ? count(rows, splits) : 1),
      pnv(splits > 1 ? count(rows, splits, s.F) : 1);
  const Partials partials{pm.get(), pd.get(), pnv.get()};
  const dim3 grid(static_cast<unsigned>(x_blocks), static_cast<unsigned>(s.H), static_cast<unsigned>(s.B));
  const Round r = round_of(out_dtype);
  attention_tiled_kernel<<<grid, kQueries, shared>>>(s, tile_m, splits, (s.M + splits - 1) / splits, q.get(), k.get(),
                                                     v.get(), o.get(), partials, r);
  check_launch("attention_tiled_kernel");
  if (splits > 1) {
    constexpr int kThreads = 128;
    combine_parts_kernel<<<static_cast<unsigned>((rows + kThreads - 1) / kThreads), kThreads>>>(s, splits, partials,
                                                                                                o.get(), r);
    check_launch("combine_parts_kernel");
  }
  o.download(out);
}

}  // namespace

void attention_tiled(DType out_dtype, const AttentionShape& s, int64_t tile_m, const float* Q, const float* K,
                     const float* V, float* out) {
  run_parts("attention_tiled", out_dtype, s, tile_m, 1, Q, K, V, out);
}

void attention_split(DType out_dtype, const AttentionShape& s, int64_t tile_m, int64_t splits, const float* Q,
                     const float* K, const float* V, float* out) {
  run_parts("attention_split", out_dtype, s, tile_m, splits, Q, K, V, out);
}

}  // namespace einsim::reference::cuda
