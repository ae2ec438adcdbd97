#include "workloads/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>

#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

using reference::Backend;

// The kernel's view of the cascade: its bound tensors' extents, and inputs rounded to their dtypes as floats.
class Bound {
 public:
  Bound(const Cascade& c, const TensorValues& inputs) : c_(c), inputs_(inputs) {}

  const Tensor& tensor(const std::string& role) const { return c_.tensor(c_.kernel->tensors.at(role)); }

  // The extents of a role's tensor, which must have one of the given rank counts.
  std::vector<int64_t> extents(const std::string& role, std::initializer_list<size_t> ranks) const {
    const Tensor& t = tensor(role);
    if (std::find(ranks.begin(), ranks.end(), t.ranks.size()) == ranks.end())
      throw UserError(t.loc, "tensors." + t.name,
                      fmt::format("kernel '{}' needs {} ranks for role '{}', but '{}' has {}", c_.kernel->name,
                                  *ranks.begin(), role, t.name, t.ranks.size()));
    std::vector<int64_t> e;
    for (const Rank& r : t.ranks) e.push_back(r.extent);
    return e;
  }

  void same(const std::string& what, int64_t a, int64_t b) const {
    if (a != b)
      fail(fmt::format("kernel '{}': {} differs between its tensors ({} and {})", c_.kernel->name, what, a, b));
  }

  std::vector<float> floats(const std::string& role) const {
    const Tensor& t = tensor(role);
    const std::vector<double>& v = inputs_.at(t.name);
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(round_to(t.dtype, v[i]));
    return out;
  }

  bool has_param(const std::string& name) const { return c_.param(name) != nullptr; }
  double param(const std::string& name) const {
    const Param* p = c_.param(name);
    if (!p) fail(fmt::format("kernel '{}' needs a param '{}'", c_.kernel->name, name));
    return p->value;
  }

  [[noreturn]] void fail(const std::string& message) const { throw UserError(c_.kernel->loc, "kernel", message); }

 private:
  const Cascade& c_;
  const TensorValues& inputs_;
};

// One way the kernel computes the output: its name, and the run that fills `out`.
struct Variant {
  std::string name;
  std::function<void(float* out)> run;
};

// A kernel bound to a cascade: the ways to compute its output, a row-sampled fp64 oracle, and its longest sum.
struct Plan {
  std::vector<Variant> variants;
  int64_t rows = 0;                                                                         // independent output rows
  std::function<void(int64_t row, std::vector<std::pair<int64_t, double>>& out)> row_fp64;  // (element, value)
  int64_t reduction = 1;
};

// x[0..rows) times the row-major matrix W [rows, cols], in fp64, walking W's rows contiguously.
template <typename T>
std::vector<double> row_times_matrix(const T* x, const float* W, int64_t rows, int64_t cols) {
  std::vector<double> y(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const double a = static_cast<double>(x[r]);
    const float* w = W + r * cols;
    for (int64_t c = 0; c < cols; ++c) y[static_cast<size_t>(c)] += a * w[c];
  }
  return y;
}

// The inputs of each plan live here so the variants' closures can hold pointers into them.
struct Inputs {
  std::map<std::string, std::vector<float>> data;
  const float* operator[](const std::string& role) const { return data.at(role).data(); }
};

Plan attention_plan(const Bound& b, const Inputs& in, DType out, Backend backend, bool causal) {
  const std::vector<int64_t> q = b.extents("Q", {4, 3});
  const std::vector<int64_t> k = b.extents("K", {4});
  const std::vector<int64_t> v = b.extents("V", {4});
  const std::vector<int64_t> o = b.extents("out", {q.size()});
  reference::AttentionShape s;
  s.B = q[0], s.H = q[1], s.E = q[2], s.P = q.size() == 4 ? q[3] : 1;
  s.KH = k[1], s.M = k[3], s.F = v[2];
  s.causal = causal;
  b.same("B", k[0], s.B), b.same("B", v[0], s.B), b.same("B", o[0], s.B), b.same("H", o[1], s.H),
      b.same("E", k[2], s.E);
  b.same("KH", v[1], s.KH), b.same("M", v[3], s.M), b.same("F", o[2], s.F);
  if (q.size() == 4) b.same("P", o[3], s.P);
  if (s.H % s.KH != 0)
    b.fail(fmt::format("kernel 'attention': {} query heads do not divide into {} KV heads", s.H, s.KH));
  // The 1-pass cascade's tile (M0) where it has one, so the tiled kernel takes the same steps.
  const int64_t tile_m = b.has_param("M0") ? static_cast<int64_t>(b.param("M0")) : std::min<int64_t>(s.M, 256);
  Plan p;
  p.variants.push_back({"attention_naive", [=, &in](float* y) {
                          reference::attention_naive(out, s, in["Q"], in["K"], in["V"], y, backend);
                        }});
  p.variants.push_back({fmt::format("attention_tiled (tile {})", tile_m), [=, &in](float* y) {
                          reference::attention_tiled(out, s, tile_m, in["Q"], in["K"], in["V"], y, backend);
                        }});
  // The split cascade's parts (S, decode-attention-split.yaml), so the split kernel takes the same steps.
  if (b.has_param("S") && b.param("S") > 1) {
    const auto splits = static_cast<int64_t>(b.param("S"));
    p.variants.push_back({fmt::format("attention_split ({} parts, tile {})", splits, tile_m), [=, &in](float* y) {
                            reference::attention_split(out, s, tile_m, splits, in["Q"], in["K"], in["V"], y, backend);
                          }});
  }
  p.rows = s.B * s.H * s.P;
  p.reduction = std::max(s.M, s.E);
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& y) {
    const int64_t bi = row / (s.H * s.P), h = row / s.P % s.H, pi = row % s.P, kh = h / (s.H / s.KH);
    const float* Q = in["Q"] + (bi * s.H + h) * s.E * s.P + pi;
    const float* K = in["K"] + (bi * s.KH + kh) * s.E * s.M;
    const float* V = in["V"] + (bi * s.KH + kh) * s.F * s.M;
    // Loops ordered so the inner one walks memory contiguously (K is [E,M]): this runs on long rows.
    const int64_t seen = s.causal ? pi + (s.M - s.P) + 1 : s.M;  // keys [0, seen) are visible
    std::vector<double> w(static_cast<size_t>(seen), 0.0);
    for (int64_t e = 0; e < s.E; ++e)
      for (int64_t m = 0; m < seen; ++m) w[static_cast<size_t>(m)] += static_cast<double>(Q[e * s.P]) * K[e * s.M + m];
    const double top = *std::max_element(w.begin(), w.end());
    double sum = 0;
    for (double& x : w) sum += x = std::exp(x - top);
    for (int64_t f = 0; f < s.F; ++f) {
      double acc = 0;
      for (int64_t m = 0; m < seen; ++m) acc += w[static_cast<size_t>(m)] * V[f * s.M + m];
      y.emplace_back(((bi * s.H + h) * s.F + f) * s.P + pi, acc / sum);
    }
  };
  return p;
}

// A pruned step's output row (sequence b, kept head j): b, the tokens kept for it and the head's number, ranked by
// the importances as the cascades' topk ranks them.
struct PrunedRow {
  int64_t b;
  std::vector<int64_t> kept;
  int64_t head;
};
PrunedRow pruned_row(const Inputs& in, const reference::AttentionShape& s, int64_t keep, int64_t heads, int64_t row) {
  const int64_t b = row / heads, j = row % heads;
  return {b, reference::topk_indices(in["IMP"] + b * s.M, s.M, keep),
          reference::topk_indices(in["IMPH"] + b * s.H, s.H, heads)[static_cast<size_t>(j)]};
}

// SpAtten's pruned decode step: the kept tokens and heads (the cascade's KEEP and HKEEP) picked by importance,
// then attention over them, on the CPU or the GPU.
Plan pruned_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  const std::vector<int64_t> q = b.extents("Q", {3});
  const std::vector<int64_t> k = b.extents("K", {4});
  const std::vector<int64_t> v = b.extents("V", {4});
  const std::vector<int64_t> imp = b.extents("IMP", {2});
  const std::vector<int64_t> imph = b.extents("IMPH", {2});
  const std::vector<int64_t> o = b.extents("out", {3});
  reference::AttentionShape s;
  s.B = q[0], s.H = q[1], s.E = q[2], s.KH = k[1], s.M = k[3], s.F = v[2];
  b.same("B", k[0], s.B), b.same("B", v[0], s.B), b.same("B", imp[0], s.B), b.same("B", o[0], s.B);
  b.same("E", k[2], s.E), b.same("M", v[3], s.M), b.same("M", imp[1], s.M), b.same("H", imph[1], s.H);
  b.same("B", imph[0], s.B), b.same("F", o[2], s.F), b.same("KH", v[1], s.KH), b.same("KH", s.KH, s.H);
  const auto keep = static_cast<int64_t>(b.param("KEEP"));
  const int64_t heads = o[1];
  if (keep < 1 || keep > s.M) b.fail(fmt::format("kernel 'attention_pruned' keeps {} of {} tokens", keep, s.M));
  if (heads > s.H) b.fail(fmt::format("kernel 'attention_pruned' keeps {} of {} heads", heads, s.H));
  Plan p;
  p.variants.push_back({fmt::format("attention_pruned (keep {} tokens, {} heads)", keep, heads), [=, &in](float* y) {
                          reference::attention_pruned(out, s, keep, heads, in["IMP"], in["IMPH"], in["Q"], in["K"],
                                                      in["V"], y, backend);
                        }});
  p.rows = s.B * heads;
  p.reduction = std::max(keep, s.E);
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& y) {
    const auto [bi, kept, h] = pruned_row(in, s, keep, heads, row);
    const float* Q = in["Q"] + (bi * s.H + h) * s.E;
    const float* K = in["K"] + (bi * s.KH + h) * s.E * s.M;
    const float* V = in["V"] + (bi * s.KH + h) * s.F * s.M;
    std::vector<double> w;
    double gm = -INFINITY;
    for (const int64_t m : kept) {
      double acc = 0;
      for (int64_t e = 0; e < s.E; ++e) acc += static_cast<double>(Q[e]) * K[e * s.M + m];
      w.push_back(acc);
      gm = std::max(gm, acc);
    }
    double sd = 0;
    for (double& x : w) sd += x = std::exp(x - gm);
    for (int64_t f = 0; f < s.F; ++f) {
      double acc = 0;
      for (size_t i = 0; i < kept.size(); ++i) acc += w[i] * V[f * s.M + kept[i]];
      y.emplace_back(row * s.F + f, acc / sd);
    }
  };
  return p;
}

// SpAtten's top-k engine and its gather on their own: each row's KEEP highest scores, their columns of X, on the
// CPU or the GPU. The fp64 rows rank afresh (every index sorted by score, a tie to the lower), not with the kernels'
// topk_indices.
Plan topk_gather_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  const std::vector<int64_t> s = b.extents("S", {2}), x = b.extents("X", {3}), o = b.extents("out", {3});
  const int64_t rows = s[0], n = s[1], channels = x[1], keep = o[2];
  b.same("B", x[0], rows), b.same("B", o[0], rows), b.same("L", x[2], n), b.same("E", o[1], channels);
  if (keep > n) b.fail(fmt::format("kernel 'topk_gather' keeps {} of {} tokens", keep, n));
  Plan p;
  p.variants.push_back({fmt::format("topk_gather (keep {} of {})", keep, n), [=, &in](float* y) {
                          reference::topk_gather(out, rows, n, keep, channels, in["S"], in["X"], y, backend);
                        }});
  p.rows = rows;
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& y) {
    const float* S = in["S"] + row * n;
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return S[i] > S[j]; });
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < keep; ++k)
        y.emplace_back((row * channels + c) * keep + k,
                       in["X"][(row * channels + c) * n + order[static_cast<size_t>(k)]]);
  };
  return p;
}

// SpAtten's cascade pruning over two layers: layer 1 keeps KEEP tokens and HKEEP heads, layer 2 KEEP2 and HKEEP2 of
// them. CPU only.
Plan pruned_layers_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  if (backend == Backend::cuda) b.fail("kernel 'attention_pruned_layers' runs on the CPU only");
  const std::vector<int64_t> q = b.extents("Q", {3}), kc = b.extents("K", {4}), oc = b.extents("out", {3});
  reference::AttentionShape s;
  s.B = q[0], s.H = q[1], s.KH = q[1], s.E = q[2], s.M = kc[3], s.F = b.extents("V", {4})[2];
  for (const char* role : {"K", "K2", "V", "V2"}) {
    const std::vector<int64_t> x = b.extents(role, {4});
    b.same("B", x[0], s.B), b.same("H", x[1], s.H),
        b.same(role[0] == 'K' ? "E" : "F", x[2], role[0] == 'K' ? s.E : s.F);
    b.same("M", x[3], s.M);
  }
  const std::vector<int64_t> q2 = b.extents("Q2", {3}), imp = b.extents("IMP", {2}), imph = b.extents("IMPH", {2});
  b.same("B", q2[0], s.B), b.same("H", q2[1], s.H), b.same("E", q2[2], s.E), b.same("M", imp[1], s.M);
  b.same("H", imph[1], s.H), b.same("B", oc[0], s.B), b.same("F", oc[2], s.F);
  reference::PrunedLayers keep;
  keep.tokens = static_cast<int64_t>(b.param("KEEP")), keep.heads = static_cast<int64_t>(b.param("HKEEP"));
  keep.tokens2 = static_cast<int64_t>(b.param("KEEP2")), keep.heads2 = oc[1];
  if (keep.tokens < 1 || keep.tokens > s.M || keep.heads > s.H || keep.tokens2 > keep.tokens ||
      keep.heads2 > keep.heads)
    b.fail(fmt::format("kernel 'attention_pruned_layers' keeps {} then {} of {} tokens, {} then {} of {} heads",
                       keep.tokens, keep.tokens2, s.M, keep.heads, keep.heads2, s.H));
  Plan p;
  p.variants.push_back({fmt::format("attention_pruned_layers (keep {} then {} tokens, {} then {} heads)", keep.tokens,
                                    keep.tokens2, keep.heads, keep.heads2),
                        [=, &in](float* y) {
                          reference::attention_pruned_layers(out, s, keep, in["IMP"], in["IMPH"], in["Q"], in["K"],
                                                             in["V"], in["Q2"], in["K2"], in["V2"], y);
                        }});
  p.rows = s.B * keep.heads2;
  p.reduction = std::max(keep.tokens, s.E);
  // In fp64: layer 1 whole (its importances decide layer 2's choice), then the row's head of layer 2.
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& y) {
    const int64_t bi = row / keep.heads2, j2 = row % keep.heads2;
    const std::vector<int64_t> kept = reference::topk_indices(in["IMP"] + bi * s.M, s.M, keep.tokens);
    const std::vector<int64_t> heads = reference::topk_indices(in["IMPH"] + bi * s.H, s.H, keep.heads);
    // One head's softmax weights over `tokens` of a cache, and its output.
    auto attend = [&](const float* Q, const float* K, const float* V, int64_t h, const std::vector<int64_t>& tokens,
                      std::vector<double>& w, std::vector<double>& out_row) {
      const float* query = Q + (bi * s.H + h) * s.E;
      w.assign(tokens.size(), 0.0);
      for (size_t i = 0; i < tokens.size(); ++i)
        for (int64_t e = 0; e < s.E; ++e)
          w[i] += static_cast<double>(query[e]) * K[((bi * s.H + h) * s.E + e) * s.M + tokens[i]];
      const double gm = *std::max_element(w.begin(), w.end());
      double sd = 0;
      for (double& x : w) sd += x = std::exp(x - gm);
      for (double& x : w) x /= sd;
      out_row.assign(static_cast<size_t>(s.F), 0.0);
      for (int64_t f = 0; f < s.F; ++f)
        for (size_t i = 0; i < tokens.size(); ++i)
          out_row[static_cast<size_t>(f)] += w[i] * V[((bi * s.H + h) * s.F + f) * s.M + tokens[i]];
    };
    std::vector<float> token_imp(kept.size()), head_imp(heads.size());
    for (size_t t = 0; t < kept.size(); ++t) token_imp[t] = in["IMP"][bi * s.M + kept[t]];
    std::vector<double> w, head_out;
    for (size_t j = 0; j < heads.size(); ++j) {
      attend(in["Q"], in["K"], in["V"], heads[j], kept, w, head_out);
      for (size_t t = 0; t < kept.size(); ++t) token_imp[t] += static_cast<float>(w[t]);
      double magnitude = 0;
      for (const double x : head_out) magnitude += std::abs(x);
      head_imp[j] = static_cast<float>(in["IMPH"][bi * s.H + heads[j]] + magnitude);
    }
    std::vector<int64_t> kept2;
    for (const int64_t t : reference::topk_indices(token_imp.data(), keep.tokens, keep.tokens2))
      kept2.push_back(kept[static_cast<size_t>(t)]);
    const int64_t h2 = heads[static_cast<size_t>(
        reference::topk_indices(head_imp.data(), keep.heads, keep.heads2)[static_cast<size_t>(j2)])];
    attend(in["Q2"], in["K2"], in["V2"], h2, kept2, w, head_out);
    for (int64_t f = 0; f < s.F; ++f) y.emplace_back(row * s.F + f, head_out[static_cast<size_t>(f)]);
  };
  return p;
}

// SpAtten's progressive quantization on the pruned step: the planes KH, KL, VH, VL, the scales SK and SV and the
// threshold THR of decode-attention-spatten.yaml. CPU only.
Plan spatten_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  if (backend == Backend::cuda) b.fail("kernel 'attention_spatten' runs on the CPU only");
  const std::vector<int64_t> q = b.extents("Q", {3});
  const std::vector<int64_t> o = b.extents("out", {3});
  reference::AttentionShape s;
  s.B = q[0], s.H = q[1], s.KH = q[1], s.E = q[2];
  s.M = b.extents("KH", {4})[3], s.F = b.extents("VH", {4})[2];
  for (const char* plane : {"KH", "KL", "VH", "VL"}) {
    const std::vector<int64_t> x = b.extents(plane, {4});
    const bool key = plane[0] == 'K';
    b.same("B", x[0], s.B), b.same("H", x[1], s.H), b.same(key ? "E" : "F", x[2], key ? s.E : s.F);
    b.same("M", x[3], s.M);
  }
  b.same("F", o[2], s.F), b.same("B", o[0], s.B);
  const std::vector<int64_t> imp = b.extents("IMP", {2}), imph = b.extents("IMPH", {2});
  b.same("M", imp[1], s.M), b.same("H", imph[1], s.H);
  const auto keep = static_cast<int64_t>(b.param("KEEP"));
  const int64_t heads = o[1];
  if (keep < 1 || keep > s.M) b.fail(fmt::format("kernel 'attention_spatten' keeps {} of {} tokens", keep, s.M));
  if (heads > s.H) b.fail(fmt::format("kernel 'attention_spatten' keeps {} of {} heads", heads, s.H));
  reference::ProgressiveQuant pq;
  pq.sk = static_cast<float>(b.param("SK")), pq.sv = static_cast<float>(b.param("SV"));
  pq.threshold = static_cast<float>(b.param("THR"));
  Plan p;
  p.variants.push_back({fmt::format("attention_spatten (keep {} tokens, {} heads)", keep, heads), [=, &in](float* y) {
                          reference::attention_spatten(out, s, keep, heads, pq, in["IMP"], in["IMPH"], in["Q"],
                                                       in["KH"], in["KL"], in["VH"], in["VL"], y);
                        }});
  p.rows = s.B * heads;
  p.reduction = std::max(keep, s.E);
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& y) {
    const auto [bi, kept, h] = pruned_row(in, s, keep, heads, row);
    const float* Q = in["Q"] + (bi * s.H + h) * s.E;
    auto plane = [&](const char* name, int64_t r, int64_t m) {
      return static_cast<double>(in[name][((bi * s.H + h) * (name[0] == 'K' ? s.E : s.F) + r) * s.M + m]);
    };
    // The MSB softmax decides (in fp64 here: a head within rounding of the threshold may go the other way).
    std::vector<double> w;
    for (const int64_t m : kept) {
      double acc = 0;
      for (int64_t e = 0; e < s.E; ++e) acc += static_cast<double>(Q[e]) * plane("KH", e, m);
      w.push_back(acc * 16 * pq.sk);
    }
    double gm = *std::max_element(w.begin(), w.end()), sd = 0;
    for (const double x : w) sd += std::exp(x - gm);
    const bool flat = static_cast<double>(pq.threshold) * sd > 1;
    if (flat)
      for (size_t i = 0; i < kept.size(); ++i)
        for (int64_t e = 0; e < s.E; ++e) w[i] += static_cast<double>(Q[e]) * plane("KL", e, kept[i]) * pq.sk;
    gm = *std::max_element(w.begin(), w.end());
    sd = 0;
    for (double& x : w) sd += x = std::exp(x - gm);
    for (int64_t f = 0; f < s.F; ++f) {
      double acc = 0;
      for (size_t i = 0; i < kept.size(); ++i)
        acc += w[i] * (plane("VH", f, kept[i]) * 16 + (flat ? plane("VL", f, kept[i]) : 0)) * pq.sv;
      y.emplace_back(row * s.F + f, acc / sd);
    }
  };
  return p;
}

Plan gemm_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  const std::vector<int64_t> a = b.extents("A", {2}), w = b.extents("B", {2}), c = b.extents("out", {2});
  const int64_t M = a[0], K = a[1], N = w[1];
  b.same("K", w[0], K), b.same("M", c[0], M), b.same("N", c[1], N);
  Plan p;
  p.variants.push_back({"gemm", [=, &in](float* y) { reference::gemm(out, M, N, K, in["A"], in["B"], y, backend); }});
  if (backend == Backend::cuda) {
    const DType in_dtype = b.tensor("A").dtype;
    if (in_dtype == DType::fp32 || in_dtype == DType::bf16 || in_dtype == DType::fp16)
      p.variants.push_back(
          {"gemm_cublas", [=, &in](float* y) { reference::gemm_cublas(in_dtype, out, M, N, K, in["A"], in["B"], y); }});
  }
  p.rows = M;
  p.reduction = K;
  p.row_fp64 = [=, &in](int64_t m, std::vector<std::pair<int64_t, double>>& y) {
    const std::vector<double> row = row_times_matrix(in["A"] + m * K, in["B"], K, N);
    for (int64_t n = 0; n < N; ++n) y.emplace_back(m * N + n, row[static_cast<size_t>(n)]);
  };
  return p;
}

Plan ffn_plan(const Bound& b, const Inputs& in, DType out, Backend backend, bool swiglu) {
  const std::vector<int64_t> x = b.extents("X", {2}), w1 = b.extents("W1", {2}), w2 = b.extents("W2", {2}),
                             y = b.extents("out", {2});
  const int64_t N = x[0], D = x[1], FF = w1[1];
  b.same("D", w1[0], D), b.same("FF", w2[0], FF), b.same("D", w2[1], D), b.same("N", y[0], N), b.same("D", y[1], D);
  if (swiglu) {
    const std::vector<int64_t> w3 = b.extents("W3", {2});
    b.same("D", w3[0], D), b.same("FF", w3[1], FF);
  }
  Plan p;
  if (swiglu)
    p.variants.push_back({"ffn_swiglu", [=, &in](float* o) {
                            reference::ffn_swiglu(out, N, D, FF, in["X"], in["W1"], in["W3"], in["W2"], o, backend);
                          }});
  else
    p.variants.push_back({"ffn_gelu", [=, &in](float* o) {
                            reference::ffn_gelu(out, N, D, FF, in["X"], in["W1"], in["W2"], o, backend);
                          }});
  p.rows = N;
  p.reduction = std::max(D, FF);
  p.row_fp64 = [=, &in](int64_t n, std::vector<std::pair<int64_t, double>>& o) {
    std::vector<double> h = row_times_matrix(in["X"] + n * D, in["W1"], D, FF);
    const std::vector<double> u = swiglu ? row_times_matrix(in["X"] + n * D, in["W3"], D, FF) : std::vector<double>{};
    for (size_t f = 0; f < h.size(); ++f) {
      const double g = h[f];
      h[f] = swiglu ? g / (1 + std::exp(-g)) * u[f] : 0.5 * g * (1 + std::erf(g / std::sqrt(2.0)));
    }
    const std::vector<double> row = row_times_matrix(h.data(), in["W2"], FF, D);
    for (int64_t d = 0; d < D; ++d) o.emplace_back(n * D + d, row[static_cast<size_t>(d)]);
  };
  return p;
}

Plan norm_plan(const Bound& b, const Inputs& in, DType out, Backend backend, bool layer) {
  const std::vector<int64_t> x = b.extents("X", {2}), g = b.extents("GAMMA", {1}), y = b.extents("out", {2});
  const int64_t N = x[0], D = x[1];
  b.same("D", g[0], D), b.same("N", y[0], N), b.same("D", y[1], D);
  if (layer) b.same("D", b.extents("BETA", {1})[0], D);
  const double eps = b.param("eps");
  Plan p;
  if (layer)
    p.variants.push_back({"layernorm", [=, &in](float* o) {
                            reference::layernorm(out, N, D, eps, in["X"], in["GAMMA"], in["BETA"], o, backend);
                          }});
  else
    p.variants.push_back(
        {"rmsnorm", [=, &in](float* o) { reference::rmsnorm(out, N, D, eps, in["X"], in["GAMMA"], o, backend); }});
  p.rows = N;
  p.reduction = D;
  p.row_fp64 = [=, &in](int64_t n, std::vector<std::pair<int64_t, double>>& o) {
    const float* X = in["X"] + n * D;
    double mean = 0, sq = 0;
    for (int64_t d = 0; d < D; ++d) mean += X[d] / static_cast<double>(D);
    if (!layer) mean = 0;
    for (int64_t d = 0; d < D; ++d) sq += (X[d] - mean) * (X[d] - mean) / static_cast<double>(D);
    const double rs = 1 / std::sqrt(sq + eps);
    for (int64_t d = 0; d < D; ++d)
      o.emplace_back(n * D + d, (X[d] - mean) * rs * in["GAMMA"][d] + (layer ? in["BETA"][d] : 0.0));
  };
  return p;
}

Plan scan_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  const std::vector<int64_t> x = b.extents("X", {3}), bm = b.extents("BM", {3});
  reference::ScanShape s;
  s.B = x[0], s.T = x[1], s.D = x[2], s.N = bm[2];
  for (const char* role : {"DT", "out"}) {
    const std::vector<int64_t> e = b.extents(role, {3});
    b.same("B", e[0], s.B), b.same("T", e[1], s.T), b.same("D", e[2], s.D);
  }
  const std::vector<int64_t> cm = b.extents("CM", {3}), alog = b.extents("ALOG", {2});
  b.same("B", bm[0], s.B), b.same("T", bm[1], s.T), b.same("B", cm[0], s.B), b.same("T", cm[1], s.T),
      b.same("N", cm[2], s.N), b.same("D", alog[0], s.D), b.same("N", alog[1], s.N);
  b.same("D", b.extents("DTB", {1})[0], s.D), b.same("D", b.extents("DS", {1})[0], s.D);
  Plan p;
  p.variants.push_back({"selective_scan", [=, &in](float* o) {
                          reference::selective_scan(out, s, in["X"], in["DT"], in["DTB"], in["ALOG"], in["BM"],
                                                    in["CM"], in["DS"], o, backend);
                        }});
  // A row is one (batch, channel) sequence; its state decays, so errors do not grow with T (the sum is over n).
  p.rows = s.B * s.D;
  p.reduction = s.N;
  p.row_fp64 = [=, &in](int64_t row, std::vector<std::pair<int64_t, double>>& o) {
    const int64_t bi = row / s.D, d = row % s.D;
    std::vector<double> h(static_cast<size_t>(s.N), 0.0);
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t i = (bi * s.T + t) * s.D + d;
      const double z = static_cast<double>(in["DT"][i]) + in["DTB"][d];
      const double delta = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
      double acc = 0;
      for (int64_t n = 0; n < s.N; ++n) {
        const int64_t j = (bi * s.T + t) * s.N + n;
        double& state = h[static_cast<size_t>(n)];
        state = std::exp(-delta * std::exp(static_cast<double>(in["ALOG"][d * s.N + n]))) * state +
                delta * in["BM"][j] * in["X"][i];
        acc += state * in["CM"][j];
      }
      o.emplace_back(i, acc + static_cast<double>(in["DS"][d]) * in["X"][i]);
    }
  };
  return p;
}

Plan kda_plan(const Bound& b, const Inputs& in, DType out, Backend backend) {
  const std::vector<int64_t> qe = b.extents("Q", {4}), v = b.extents("V", {4});
  reference::KdaShape s;
  s.B = qe[0], s.H = qe[1], s.T = qe[2], s.E = qe[3], s.F = v[3];
  for (const char* role : {"K", "GA"}) {
    const std::vector<int64_t> e = b.extents(role, {4});
    b.same("B", e[0], s.B), b.same("H", e[1], s.H), b.same("T", e[2], s.T), b.same("E", e[3], s.E);
  }
  const std::vector<int64_t> oe = b.extents("out", {4}), gb = b.extents("GB", {3});
  b.same("B", v[0], s.B), b.same("H", v[1], s.H), b.same("T", v[2], s.T), b.same("B", oe[0], s.B),
      b.same("H", oe[1], s.H), b.same("T", oe[2], s.T), b.same("F", oe[3], s.F), b.same("B", gb[0], s.B),
      b.same("H", gb[1], s.H), b.same("T", gb[2], s.T);
  Plan p;
  p.variants.push_back({"kda_recurrent", [=, &in](float* y) {
                          reference::kda_recurrent(out, s, in["Q"], in["K"], in["V"], in["GA"], in["GB"], y, backend);
                        }});
  // A row is one (batch, head) sequence, its state carried in fp64.
  p.rows = s.B * s.H;
  p.reduction = s.E;
  p.row_fp64 = [=, &in](int64_t bh, std::vector<std::pair<int64_t, double>>& y) {
    const auto E = static_cast<size_t>(s.E), F = static_cast<size_t>(s.F);
    std::vector<double> S(E * F, 0.0), k(E), q(E), ks(F);
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t row = bh * s.T + t;
      double kn = 0, qn = 0;
      for (size_t e = 0; e < E; ++e) {
        k[e] = in["K"][row * s.E + static_cast<int64_t>(e)], q[e] = in["Q"][row * s.E + static_cast<int64_t>(e)];
        kn += k[e] * k[e], qn += q[e] * q[e];
      }
      std::fill(ks.begin(), ks.end(), 0.0);
      for (size_t e = 0; e < E; ++e) {
        k[e] /= std::sqrt(kn), q[e] /= std::sqrt(qn);
        const double alpha = 1 / (1 + std::exp(-static_cast<double>(in["GA"][row * s.E + static_cast<int64_t>(e)])));
        for (size_t f = 0; f < F; ++f) ks[f] += k[e] * (S[e * F + f] *= alpha);
      }
      const double beta = 1 / (1 + std::exp(-static_cast<double>(in["GB"][row])));
      for (size_t f = 0; f < F; ++f) {
        const double u = beta * (in["V"][row * s.F + static_cast<int64_t>(f)] - ks[f]);
        double o = 0;
        for (size_t e = 0; e < E; ++e) o += (S[e * F + f] += k[e] * u) * q[e];
        y.emplace_back(row * s.F + static_cast<int64_t>(f), o);
      }
    }
  };
  return p;
}

// Compares `values` at the given elements (all when empty) with the oracle's.
ValidateCheck compare(std::string kernel, std::string against, const std::vector<float>& values,
                      const std::function<double(int64_t)>& oracle, const std::vector<int64_t>& at, double tolerance) {
  ValidateCheck ch{std::move(kernel), std::move(against), 0, 0, 0, tolerance};
  double scale = 0;
  const auto one = [&](int64_t i) {
    const double b = oracle(i), a = values[static_cast<size_t>(i)];
    ch.max_abs_err = std::isnan(a - b) ? INFINITY : std::max(ch.max_abs_err, std::abs(a - b));
    scale = std::max(scale, std::abs(b));
    ++ch.compared;
  };
  if (at.empty())
    for (int64_t i = 0; i < static_cast<int64_t>(values.size()); ++i) one(i);
  else
    for (int64_t i : at) one(i);
  ch.norm_rel_err = ch.max_abs_err / std::max(scale, 1e-30);
  return ch;
}

}  // namespace

double validate_tolerance(DType out, int64_t reduction) {
  return std::ldexp(1.0, -dtype_fraction_bits(out)) + 2.0 * static_cast<double>(reduction) * std::ldexp(1.0, -24);
}

bool ValidateReport::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const ValidateCheck& c) { return c.ok(); });
}

ValidateReport validate(const Cascade& c, const ValidateOptions& options) {
  if (!c.kernel)
    throw UserError(SourceLoc{c.file}, "kernel",
                    "the workload names no reference kernel (add `kernel: NAME`; see docs/language.md)");
  ValidateReport r;
  r.workload = c.name;
  r.kernel = c.kernel->name;
  std::string device;
  const bool gpu =
      options.backend != "cpu" && reference::cuda_available(&device);  // asking starts CUDA: 0.4 s without a GPU
  if (options.backend == "cuda" && !gpu)
    throw UserError(SourceLoc{}, "--backend",
                    "cuda was asked for, but there is no CUDA GPU (or einsim was built without CUDA)");
  const Backend backend = options.backend == "cpu" || !gpu ? Backend::cpu : Backend::cuda;
  r.backend = std::string(reference::backend_name(backend));
  if (backend == Backend::cuda) r.device = device;

  using Clock = std::chrono::steady_clock;
  const auto time = [&](const std::string& stage, const std::function<void()>& f) {
    const auto t0 = Clock::now();
    f();
    r.seconds.emplace_back(stage, std::chrono::duration<double>(Clock::now() - t0).count());
  };

  const double ops = total_ops(c);
  if (ops > options.max_ops)
    throw UserError(SourceLoc{c.file}, "",
                    fmt::format("validating runs {:.3g} operations in each kernel, above --max-ops {:.3g}: pass a "
                                "larger --max-ops, or use smaller params",
                                ops, options.max_ops));
  const TensorValues inputs = random_inputs(c, options.seed);
  const Bound bound(c, inputs);
  Inputs in;
  for (const auto& [role, tensor] : c.kernel->tensors)
    if (role != "out") in.data[role] = bound.floats(role);
  const Tensor& out = bound.tensor("out");
  r.output = out.name;
  if (out.dtype != DType::fp32 && out.dtype != DType::bf16 && out.dtype != DType::fp16)
    bound.fail(
        fmt::format("the reference kernels write fp32, bf16 or fp16, not {} ('{}')", dtype_name(out.dtype), out.name));
  const std::string& k = c.kernel->name;
  const Plan plan = k == "attention"                 ? attention_plan(bound, in, out.dtype, backend, false)
                    : k == "attention_causal"        ? attention_plan(bound, in, out.dtype, backend, true)
                    : k == "attention_pruned"        ? pruned_plan(bound, in, out.dtype, backend)
                    : k == "attention_spatten"       ? spatten_plan(bound, in, out.dtype, backend)
                    : k == "attention_pruned_layers" ? pruned_layers_plan(bound, in, out.dtype, backend)
                    : k == "topk_gather"             ? topk_gather_plan(bound, in, out.dtype, backend)
                    : k == "gemm"                    ? gemm_plan(bound, in, out.dtype, backend)
                    : k == "ffn_gelu"                ? ffn_plan(bound, in, out.dtype, backend, false)
                    : k == "ffn_swiglu"              ? ffn_plan(bound, in, out.dtype, backend, true)
                    : k == "selective_scan"          ? scan_plan(bound, in, out.dtype, backend)
                    : k == "kda_recurrent"           ? kda_plan(bound, in, out.dtype, backend)
                    : k == "layernorm"               ? norm_plan(bound, in, out.dtype, backend, true)
                                                     : norm_plan(bound, in, out.dtype, backend, false);
  const double tolerance = validate_tolerance(out.dtype, plan.reduction);

  std::vector<std::vector<float>> results;
  for (const Variant& v : plan.variants) {
    results.emplace_back(static_cast<size_t>(out.elements()));
    time(v.name + " (" + r.backend + ")", [&] { v.run(results.back().data()); });
  }

  if (ops <= options.max_interpreter_ops) {
    r.interpreter = "run";
    TensorValues values;
    time("interpreter (fp32)", [&] { values = evaluate(c, inputs, EvalOptions{}); });
    const std::vector<double>& oracle = values.at(out.name);
    for (size_t i = 0; i < plan.variants.size(); ++i)
      r.checks.push_back(compare(
          plan.variants[i].name + " (" + r.backend + ")", "interpreter", results[i],
          [&](int64_t e) { return oracle[static_cast<size_t>(e)]; }, {}, tolerance));
    return r;
  }
  r.interpreter =
      fmt::format("skipped: {:.3g} operations is above --max-interpreter-ops {:.3g}", ops, options.max_interpreter_ops);
  // Rows spread evenly over the output, first and last included, recomputed in fp64.
  std::map<int64_t, double> exact;
  time(fmt::format("fp64 rows ({})", std::min(options.sample_rows, plan.rows)), [&] {
    const int64_t n = std::min(options.sample_rows, plan.rows);
    std::vector<std::pair<int64_t, double>> y;
    for (int64_t i = 0; i < n; ++i) plan.row_fp64(n == 1 ? 0 : i * (plan.rows - 1) / (n - 1), y);
    exact.insert(y.begin(), y.end());
  });
  std::vector<int64_t> at;
  for (const auto& [e, v] : exact) at.push_back(e);
  for (size_t i = 0; i < plan.variants.size(); ++i) {
    r.checks.push_back(compare(
        plan.variants[i].name + " (" + r.backend + ")", "fp64 rows", results[i], [&](int64_t e) { return exact.at(e); },
        at, tolerance));
    if (i > 0)
      r.checks.push_back(compare(
          plan.variants[i].name + " (" + r.backend + ")", plan.variants[0].name, results[i],
          [&](int64_t e) { return results[0][static_cast<size_t>(e)]; }, {}, tolerance));
  }
  return r;
}

}  // namespace einsim
