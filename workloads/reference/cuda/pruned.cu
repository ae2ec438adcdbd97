// SpAtten's pruned decode step on the GPU: the top-k of each sequence's token and head importances, then a block
// per (sequence, kept head) gathering its kept tokens' keys and values. The top-k counts each score's rank
// (how many scores beat it, a tie going to the lower index), so the kept order is the CPU's exactly; it compares
// every pair of a row, so rows are limited to 65,536 scores. The block's sums run in the CPU's order (a thread
// per kept token for the scores, one thread for the denominator, a thread per output channel).
#include <cmath>
#include <string>

#include "workloads/reference/cuda/common.cuh"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference::cuda {
namespace {

constexpr int64_t kMaxRow = 65536;
constexpr int kThreads = 256;

// Row `blockIdx.y` of scores [rows, n]: index i goes to out[row, rank(i)] when its rank is below `keep`.
__global__ void __launch_bounds__(kThreads)
    topk_rank_kernel(const float* scores, int64_t n, int64_t keep, int64_t* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const float* row = scores + static_cast<int64_t>(blockIdx.y) * n;
  const float x = row[i];
  int64_t rank = 0;
  for (int64_t j = 0; j < n; ++j) rank += row[j] > x || (row[j] == x && j < i);
  if (rank < keep) out[static_cast<int64_t>(blockIdx.y) * keep + rank] = i;
}

// One kept head `blockIdx.x` of sequence `blockIdx.y`: the 3-pass softmax over its kept tokens' scores in the order
// the top-k ranked them, the division deferred to the weighted values. sn: `keep` floats of shared memory.
__global__ void __launch_bounds__(kThreads)
    pruned_head_kernel(AttentionShape s, int64_t keep, int64_t keep_heads, const int64_t* kept, const int64_t* heads,
                       const float* Q, const float* K, const float* V, float* out, Round r) {
  extern __shared__ float sn[];
  __shared__ float sd;
  const int64_t b = blockIdx.y, j = blockIdx.x;
  const int64_t h = heads[b * keep_heads + j];
  const int64_t* tokens = kept + b * keep;
  const float* q = Q + (b * s.H + h) * s.E;
  const float* k = K + (b * s.KH + h) * s.E * s.M;
  const float* v = V + (b * s.KH + h) * s.F * s.M;
  for (int64_t t = threadIdx.x; t < keep; t += kThreads) {
    float acc = 0;
    for (int64_t e = 0; e < s.E; ++e) acc = __fadd_rn(acc, __fmul_rn(q[e], k[e * s.M + tokens[t]]));
    sn[t] = acc;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float gm = -INFINITY;
    for (int64_t t = 0; t < keep; ++t) gm = fmaxf(gm, sn[t]);
    float sum = 0;
    for (int64_t t = 0; t < keep; ++t) {
      sn[t] = expf(sn[t] - gm);
      sum = __fadd_rn(sum, sn[t]);
    }
    sd = sum;
  }
  __syncthreads();
  for (int64_t f = threadIdx.x; f < s.F; f += kThreads) {
    float snv = 0;
    for (int64_t t = 0; t < keep; ++t) snv = __fadd_rn(snv, __fmul_rn(sn[t], v[f * s.M + tokens[t]]));
    out[(b * keep_heads + j) * s.F + f] = round_out(__fdiv_rn(snv, sd), r);
  }
}

// The top `keep` of each of `rows` rows of n scores, on the device.
void topk_rows(const char* name, const float* scores, int64_t rows, int64_t n, int64_t keep,
               DeviceBuffer<int64_t>& out) {
  if (n > kMaxRow)
    throw UserError(std::string("reference ") + name + " on CUDA: its top-k compares every pair of a row, so rows " +
                    "hold at most 65,536 scores (this one " + std::to_string(n) + "): use the CPU");
  DeviceBuffer<float> d(scores, count(rows, n));
  const dim3 grid(static_cast<unsigned>((n + kThreads - 1) / kThreads), static_cast<unsigned>(rows));
  topk_rank_kernel<<<grid, kThreads>>>(d.get(), n, keep, out.get());
  check_launch("topk_rank_kernel");
}

// out[b, c, k] = X[b, c, kept[b, k]], a thread per element.
__global__ void __launch_bounds__(kThreads) gather_kernel(int64_t rows, int64_t n, int64_t keep, int64_t channels,
                                                          const int64_t* kept, const float* X, float* out, Round r) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= rows * channels * keep) return;
  const int64_t k = i % keep, bc = i / keep, b = bc / channels;
  out[i] = round_out(X[bc * n + kept[b * keep + k]], r);
}

}  // namespace

void topk_gather(DType out_dtype, int64_t rows, int64_t n, int64_t keep, int64_t channels, const float* scores,
                 const float* X, float* out) {
  require_device("topk_gather");
  if (rows > 65535) throw UserError("reference topk_gather on CUDA: at most 65,535 rows");
  DeviceBuffer<int64_t> kept(count(rows, keep));
  topk_rows("topk_gather", scores, rows, n, keep, kept);
  DeviceBuffer<float> x(X, count(rows, channels, n)), o(count(rows, channels, keep));
  const int64_t elements = rows * channels * keep;
  if ((elements + kThreads - 1) / kThreads > 2147483647)
    throw UserError("reference topk_gather on CUDA: more gathered elements than one launch's 2^31 blocks hold");
  gather_kernel<<<static_cast<unsigned>((elements + kThreads - 1) / kThreads), kThreads>>>(
      rows, n, keep, channels, kept.get(), x.get(), o.get(), round_of(out_dtype));
  check_launch("gather_kernel");
  o.download(out);
}

void attention_pruned(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                      const float* importance, const float* head_importance, const float* Q, const float* K,
                      const float* V, float* out) {
  require_device("attention_pruned");
  if (s.B > 65535 || keep_heads > 65535)
    throw UserError("reference attention_pruned on CUDA: B and the kept heads must be at most 65535");
  const size_t shared = sizeof(float) * static_cast<size_t>(keep);
  if (shared > 48 * 1024)
    throw UserError(
        "reference attention_pruned on CUDA: at most 12,288 kept tokens (their scores stay in shared "
        "memory)");
  DeviceBuffer<int64_t> kept(count(s.B, keep)), heads(count(s.B, keep_heads));
  topk_rows("attention_pruned", importance, s.B, s.M, keep, kept);
  topk_rows("attention_pruned", head_importance, s.B, s.H, keep_heads, heads);
  DeviceBuffer<float> q(Q, count(s.B, s.H, s.E)), k(K, count(s.B, s.KH, s.E, s.M)), v(V, count(s.B, s.KH, s.F, s.M));
  DeviceBuffer<float> o(count(s.B, keep_heads, s.F));
  const dim3 grid(static_cast<unsigned>(keep_heads), static_cast<unsigned>(s.B));
  pruned_head_kernel<<<grid, kThreads, shared>>>(s, keep, keep_heads, kept.get(), heads.get(), q.get(), k.get(),
                                                 v.get(), o.get(), round_of(out_dtype));
  check_launch("pruned_head_kernel");
  o.download(out);
}

}  // namespace einsim::reference::cuda
