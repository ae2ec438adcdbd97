// Attention on the CPU, one query row at a time, in the order of operations of the attention-3pass and
// attention-1pass cascades (so that the interpreter, run in fp32, gives the same values).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/error.hpp"
#include "workloads/reference/check.hpp"
#include "workloads/reference/cuda/cuda_kernels.hpp"

namespace einsim::reference {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The slices of one (batch, query head) pair and of the KV head it reads.
struct HeadView {
  const float* q;  // [E, P]
  const float* k;  // [E, M]
  const float* v;  // [F, M]
  float* out;      // [F, P]
};

HeadView head_view(const AttentionShape& s, int64_t b, int64_t h, const float* Q, const float* K, const float* V,
                   float* out) {
  const int64_t kh = h / (s.H / s.KH);
  return {Q + (b * s.H + h) * s.E * s.P, K + (b * s.KH + kh) * s.E * s.M, V + (b * s.KH + kh) * s.F * s.M,
          out + (b * s.H + h) * s.F * s.P};
}

// Keys [0, visible) are seen by query p.
int64_t visible_keys(const AttentionShape& s, int64_t p) { return s.causal ? p + (s.M - s.P) + 1 : s.M; }

// scores[j] = sum_e Q[e,p] K[e,m0+j] for j < n, summed over e in order.
void scores(const AttentionShape& s, const HeadView& v, int64_t p, int64_t m0, int64_t n, float* out) {
  std::fill(out, out + n, 0.0f);
  for (int64_t e = 0; e < s.E; ++e) {
    const float q = v.q[e * s.P + p];
    const float* k = v.k + e * s.M + m0;
    for (int64_t j = 0; j < n; ++j) out[j] += q * k[j];
  }
}

}  // namespace

void attention_naive(DType out_dtype, const AttentionShape& s, const float* Q, const float* K, const float* V,
                     float* out, Backend backend) {
  detail::check_attention("attention_naive", s);
  detail::check_out_dtype("attention_naive", out_dtype);
  if (backend == Backend::cuda) return cuda::attention_naive(out_dtype, s, Q, K, V, out);
  std::vector<float> row(static_cast<size_t>(s.M));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const HeadView v = head_view(s, b, h, Q, K, V, out);
      for (int64_t p = 0; p < s.P; ++p) {
        const int64_t n = visible_keys(s, p);
        scores(s, v, p, 0, n, row.data());
        float gm = kNegInf;  // pass 1: max
        for (int64_t m = 0; m < n; ++m) gm = std::max(gm, row[static_cast<size_t>(m)]);
        float sd = 0;  // pass 2: numerators and their sum
        for (int64_t m = 0; m < n; ++m) {
          float& x = row[static_cast<size_t>(m)];
          x = std::exp(x - gm);
          sd += x;
        }
        for (int64_t m = 0; m < n; ++m) row[static_cast<size_t>(m)] /= sd;  // pass 3: normalize
        for (int64_t f = 0; f < s.F; ++f) {
          const float* vf = v.v + f * s.M;
          float acc = 0;
          for (int64_t m = 0; m < n; ++m) acc += row[static_cast<size_t>(m)] * vf[m];
          v.out[f * s.P + p] = static_cast<float>(round_to(out_dtype, acc));
        }
      }
    }
}

namespace {

// The 1-pass online softmax of query p over keys [from, to) in tiles of tile_m keys (the last may be shorter): the
// part's running max, denominator and numerator (RM, RD, RNV) at its end. An empty part leaves -inf, 0 and zeros.
struct Partial {
  float rm = kNegInf;
  float rd = 0;
  std::vector<float> rnv;
};

void online_softmax(const AttentionShape& s, const HeadView& v, int64_t p, int64_t from, int64_t to, int64_t tile_m,
                    std::vector<float>& sln, Partial& part) {
  part.rm = kNegInf;
  part.rd = 0;
  part.rnv.assign(static_cast<size_t>(s.F), 0.0f);
  for (int64_t m0 = from; m0 < to; m0 += tile_m) {
    const int64_t n = std::min(tile_m, to - m0);  // a causal query's or a part's last tile may be cut short
    scores(s, v, p, m0, n, sln.data());
    float lm = kNegInf;
    for (int64_t j = 0; j < n; ++j) lm = std::max(lm, sln[static_cast<size_t>(j)]);
    const float rm_next = std::max(part.rm, lm);
    float sld = 0;
    for (int64_t j = 0; j < n; ++j) {
      float& x = sln[static_cast<size_t>(j)];
      x = std::exp(x - rm_next);
      sld += x;
    }
    const float prm = std::exp(part.rm - rm_next);  // 0 at the first tile, where rm is -inf
    part.rd = sld + part.rd * prm;
    for (int64_t f = 0; f < s.F; ++f) {
      const float* vf = v.v + f * s.M + m0;
      float slnv = 0;
      for (int64_t j = 0; j < n; ++j) slnv += sln[static_cast<size_t>(j)] * vf[j];
      part.rnv[static_cast<size_t>(f)] = slnv + part.rnv[static_cast<size_t>(f)] * prm;
    }
    part.rm = rm_next;
  }
}

}  // namespace

void attention_tiled(DType out_dtype, const AttentionShape& s, int64_t tile_m, const float* Q, const float* K,
                     const float* V, float* out, Backend backend) {
  detail::check_attention("attention_tiled", s);
  detail::check_sizes("attention_tiled", {{"tile_m", tile_m}});
  detail::check_out_dtype("attention_tiled", out_dtype);
  if (backend == Backend::cuda) return cuda::attention_tiled(out_dtype, s, tile_m, Q, K, V, out);
  std::vector<float> sln(static_cast<size_t>(std::min(tile_m, s.M)));
  Partial part;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const HeadView v = head_view(s, b, h, Q, K, V, out);
      for (int64_t p = 0; p < s.P; ++p) {
        online_softmax(s, v, p, 0, visible_keys(s, p), tile_m, sln, part);
        for (int64_t f = 0; f < s.F; ++f)
          v.out[f * s.P + p] = static_cast<float>(round_to(out_dtype, part.rnv[static_cast<size_t>(f)] / part.rd));
      }
    }
}

void attention_split(DType out_dtype, const AttentionShape& s, int64_t tile_m, int64_t splits, const float* Q,
                     const float* K, const float* V, float* out, Backend backend) {
  detail::check_attention("attention_split", s);
  detail::check_sizes("attention_split", {{"tile_m", tile_m}, {"splits", splits}});
  detail::check_out_dtype("attention_split", out_dtype);
  if (backend == Backend::cuda) return cuda::attention_split(out_dtype, s, tile_m, splits, Q, K, V, out);
  const int64_t length = (s.M + splits - 1) / splits;  // keys per part; the last may be shorter
  std::vector<float> sln(static_cast<size_t>(std::min(tile_m, s.M)));
  std::vector<Partial> parts(static_cast<size_t>(splits));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h) {
      const HeadView v = head_view(s, b, h, Q, K, V, out);
      for (int64_t p = 0; p < s.P; ++p) {
        const int64_t visible = visible_keys(s, p);
        for (int64_t i = 0; i < splits; ++i)
          online_softmax(s, v, p, std::min(i * length, visible), std::min((i + 1) * length, visible), tile_m, sln,
                         parts[static_cast<size_t>(i)]);
        // The partials rescaled to the largest max (GM, PS), their denominators and numerators summed in part order.
        float gm = kNegInf;
        for (const Partial& part : parts) gm = std::max(gm, part.rm);
        float gd = 0;
        std::vector<float> gnv(static_cast<size_t>(s.F), 0.0f);
        for (const Partial& part : parts) {
          const float ps = std::exp(part.rm - gm);  // 0 for an empty part
          gd += part.rd * ps;
          for (int64_t f = 0; f < s.F; ++f) gnv[static_cast<size_t>(f)] += part.rnv[static_cast<size_t>(f)] * ps;
        }
        for (int64_t f = 0; f < s.F; ++f)
          v.out[f * s.P + p] = static_cast<float>(round_to(out_dtype, gnv[static_cast<size_t>(f)] / gd));
      }
    }
}

std::vector<int64_t> topk_indices(const float* scores, int64_t n, int64_t keep) {
  detail::check_sizes("topk_indices", {{"n", n}, {"keep", keep}});
  if (keep > n) throw UserError(fmt::format("reference topk_indices: keeps {} of {}", keep, n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                    [&](int64_t a, int64_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  order.resize(static_cast<size_t>(keep));
  return order;
}

void topk_gather(DType out_dtype, int64_t rows, int64_t n, int64_t keep, int64_t channels, const float* scores,
                 const float* X, float* out, Backend backend) {
  detail::check_sizes("topk_gather", {{"rows", rows}, {"n", n}, {"keep", keep}, {"channels", channels}});
  detail::check_out_dtype("topk_gather", out_dtype);
  if (keep > n) throw UserError(fmt::format("reference topk_gather: keeps {} of {}", keep, n));
  if (backend == Backend::cuda) return cuda::topk_gather(out_dtype, rows, n, keep, channels, scores, X, out);
  for (int64_t b = 0; b < rows; ++b) {
    const std::vector<int64_t> kept = topk_indices(scores + b * n, n, keep);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < keep; ++k)
        out[(b * channels + c) * keep + k] =
            static_cast<float>(round_to(out_dtype, X[(b * channels + c) * n + kept[static_cast<size_t>(k)]]));
  }
}

namespace {

// One layer of SpAtten's pruned step for sequence b: per kept head (heads, most important first) the 3-pass
// softmax over the kept tokens' scores (kept: cache positions, most important first), the division deferred to the
// weighted values, into out [keep_heads, F]. Also each kept token's probability summed over the kept heads
// (token_gain [keep]) and each kept head's summed |output| (head_gain [keep_heads]), as the cascades add them to
// the importances; either may be null.
void pruned_layer(DType out_dtype, const AttentionShape& s, int64_t b, const std::vector<int64_t>& kept,
                  const std::vector<int64_t>& heads, const float* Q, const float* K, const float* V, float* out,
                  float* token_gain, float* head_gain) {
  const size_t n = kept.size();
  std::vector<float> sn(n);
  if (token_gain) std::fill(token_gain, token_gain + n, 0.0f);
  for (size_t j = 0; j < heads.size(); ++j) {
    const HeadView v = head_view(s, b, heads[j], Q, K, V, out);
    float* o = out + static_cast<int64_t>(j) * s.F;
    float gm = kNegInf;
    for (size_t k = 0; k < n; ++k) {  // the kept keys' scores, in the order topk ranks them
      float acc = 0;
      for (int64_t e = 0; e < s.E; ++e) acc += v.q[e] * v.k[e * s.M + kept[k]];
      sn[k] = acc;
      gm = std::max(gm, acc);
    }
    float sd = 0;
    for (float& x : sn) {
      x = std::exp(x - gm);
      sd += x;
    }
    float magnitude = 0;
    for (int64_t f = 0; f < s.F; ++f) {  // the division deferred to the weighted sum
      float snv = 0;
      for (size_t k = 0; k < n; ++k) snv += sn[k] * v.v[f * s.M + kept[k]];
      o[f] = static_cast<float>(round_to(out_dtype, snv / sd));
      magnitude += std::abs(o[f]);
    }
    if (head_gain) head_gain[j] = magnitude;
    if (token_gain)
      for (size_t k = 0; k < n; ++k) token_gain[k] += sn[k] / sd;
  }
}

}  // namespace

void attention_pruned(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                      const float* importance, const float* head_importance, const float* Q, const float* K,
                      const float* V, float* out, Backend backend) {
  detail::check_attention("attention_pruned", s);
  detail::check_out_dtype("attention_pruned", out_dtype);
  if (s.P != 1 || s.causal) throw UserError("reference attention_pruned: a decode step (P = 1), not causal");
  if (keep < 1 || keep > s.M || keep_heads < 1 || keep_heads > s.H)
    throw UserError("reference attention_pruned: keeps 1 to M tokens and 1 to H heads");
  if (backend == Backend::cuda)
    return cuda::attention_pruned(out_dtype, s, keep, keep_heads, importance, head_importance, Q, K, V, out);
  for (int64_t b = 0; b < s.B; ++b)
    pruned_layer(out_dtype, s, b, topk_indices(importance + b * s.M, s.M, keep),
                 topk_indices(head_importance + b * s.H, s.H, keep_heads), Q, K, V, out + b * keep_heads * s.F, nullptr,
                 nullptr);
}

void attention_pruned_layers(DType out_dtype, const AttentionShape& s, const PrunedLayers& keep,
                             const float* importance, const float* head_importance, const float* Q1, const float* K1,
                             const float* V1, const float* Q2, const float* K2, const float* V2, float* out) {
  detail::check_attention("attention_pruned_layers", s);
  detail::check_out_dtype("attention_pruned_layers", out_dtype);
  if (s.P != 1 || s.causal) throw UserError("reference attention_pruned_layers: a decode step (P = 1), not causal");
  if (keep.tokens < 1 || keep.tokens > s.M || keep.heads < 1 || keep.heads > s.H || keep.tokens2 < 1 ||
      keep.heads2 < 1 || keep.tokens2 > keep.tokens || keep.heads2 > keep.heads)
    throw UserError(
        "reference attention_pruned_layers: layer 1 keeps 1 to M tokens and 1 to H heads, layer 2 at least one "
        "of each of those and no more");
  std::vector<float> o1(static_cast<size_t>(keep.heads * s.F));
  std::vector<float> token_imp(static_cast<size_t>(keep.tokens)), head_imp(static_cast<size_t>(keep.heads));
  for (int64_t b = 0; b < s.B; ++b) {
    const std::vector<int64_t> kept = topk_indices(importance + b * s.M, s.M, keep.tokens);
    const std::vector<int64_t> heads = topk_indices(head_importance + b * s.H, s.H, keep.heads);
    // Layer 1 (its output in bf16 or as asked: the heads' gain is summed from the stored values).
    pruned_layer(out_dtype, s, b, kept, heads, Q1, K1, V1, o1.data(), token_imp.data(), head_imp.data());
    for (size_t k = 0; k < kept.size(); ++k) token_imp[k] = importance[b * s.M + kept[k]] + token_imp[k];
    for (size_t j = 0; j < heads.size(); ++j) head_imp[j] = head_importance[b * s.H + heads[j]] + head_imp[j];
    // Layer 2: the most important of layer 1's kept tokens and heads, back at their cache positions and numbers.
    std::vector<int64_t> kept2, heads2;
    for (const int64_t k : topk_indices(token_imp.data(), keep.tokens, keep.tokens2))
      kept2.push_back(kept[static_cast<size_t>(k)]);
    for (const int64_t j : topk_indices(head_imp.data(), keep.heads, keep.heads2))
      heads2.push_back(heads[static_cast<size_t>(j)]);
    pruned_layer(out_dtype, s, b, kept2, heads2, Q2, K2, V2, out + b * keep.heads2 * s.F, nullptr, nullptr);
  }
}

}  // namespace einsim::reference

namespace einsim::reference {

void attention_spatten(DType out_dtype, const AttentionShape& s, int64_t keep, int64_t keep_heads,
                       const ProgressiveQuant& pq, const float* importance, const float* head_importance,
                       const float* Q, const float* KH, const float* KL, const float* VH, const float* VL, float* out) {
  detail::check_attention("attention_spatten", s);
  detail::check_out_dtype("attention_spatten", out_dtype);
  if (s.P != 1 || s.causal || s.KH != s.H)
    throw UserError("reference attention_spatten: a decode step (P = 1), MHA, not causal");
  if (keep < 1 || keep > s.M || keep_heads < 1 || keep_heads > s.H)
    throw UserError("reference attention_spatten: keeps 1 to M tokens and 1 to H heads");
  const auto n = static_cast<size_t>(keep);
  std::vector<float> msb(n), lsb(n), pr(n);
  const float skh = 16 * pq.sk, svh = 16 * pq.sv;  // the MSB planes' scales
  // Keys (or values) [E, M] of plane `x` for head h of sequence b, read at the kept tokens.
  auto dot = [&](const float* q, const float* x, int64_t b, int64_t h, int64_t m) {
    float acc = 0;
    for (int64_t e = 0; e < s.E; ++e) acc += q[e] * x[((b * s.H + h) * s.E + e) * s.M + m];
    return acc;
  };
  // The softmax of scores x scaled by `scale` (x - max, exp, sum, divide) into pr; returns its denominator.
  auto softmax = [&](const std::vector<float>& x, float scale) {
    const float gm = *std::max_element(x.begin(), x.end());
    float sd = 0;
    for (size_t k = 0; k < n; ++k) sd += pr[k] = std::exp(scale * (x[k] - gm));
    return sd;
  };
  for (int64_t b = 0; b < s.B; ++b) {
    const std::vector<int64_t> kept = topk_indices(importance + b * s.M, s.M, keep);
    const std::vector<int64_t> heads = topk_indices(head_importance + b * s.H, s.H, keep_heads);
    for (int64_t j = 0; j < keep_heads; ++j) {
      const int64_t h = heads[static_cast<size_t>(j)];
      const float* q = Q + (b * s.H + h) * s.E;
      for (size_t k = 0; k < n; ++k) msb[k] = dot(q, KH, b, h, kept[k]);
      float sd = softmax(msb, skh);
      const bool flat = pq.threshold * sd > 1;  // the largest probability, 1 / sd, below the threshold
      if (flat) {                               // the LSBs' partial products added to the MSB scores, at 12 bits
        for (size_t k = 0; k < n; ++k) lsb[k] = 16 * msb[k] + dot(q, KL, b, h, kept[k]);
        sd = softmax(lsb, pq.sk);
      }
      const float r = 1 / sd;  // the reciprocal once a head, then a multiply a probability
      for (float& p : pr) p *= r;
      for (int64_t f = 0; f < s.F; ++f) {
        float oh = 0, ol = 0;
        const int64_t row = ((b * s.H + h) * s.F + f) * s.M;
        for (size_t k = 0; k < n; ++k) oh += pr[k] * VH[row + kept[k]];
        if (flat)
          for (size_t k = 0; k < n; ++k) ol += pr[k] * VL[row + kept[k]];
        out[(b * keep_heads + j) * s.F + f] = static_cast<float>(round_to(out_dtype, svh * oh + pq.sv * ol));
      }
    }
  }
}

}  // namespace einsim::reference
