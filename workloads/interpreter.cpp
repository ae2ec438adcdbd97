#include "workloads/interpreter.hpp"
#include "common/units.hpp"
#include "workloads/analysis.hpp"
#include "workloads/predicate.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace einsim {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ULL;
  return h;
}

// The value of one node of an Einsum's program along the inner loop: a row, or one value for the whole row.
template <typename T>
struct Value {
  const T* row = nullptr;
  T scalar = 0;
  bool varying() const { return row != nullptr; }
  T at(int64_t i) const { return row ? row[i] : scalar; }
};

// Applies `op` along a row; the switch sits outside the loop so each case is a tight loop.
template <typename T>
void apply_row(Op op, T* out, Value<T> a, Value<T> b, int64_t n) {
  auto loop = [&](auto f) {
    if (a.row && b.row)
      for (int64_t i = 0; i < n; ++i) out[i] = f(a.row[i], b.row[i]);
    else if (a.row)
      for (int64_t i = 0; i < n; ++i) out[i] = f(a.row[i], b.scalar);
    else
      for (int64_t i = 0; i < n; ++i) out[i] = f(a.scalar, b.row[i]);
  };
  switch (op) {
    case Op::add:
      return loop([](T x, T y) { return x + y; });
    case Op::sub:
      return loop([](T x, T y) { return x - y; });
    case Op::mul:
      return loop([](T x, T y) { return x * y; });
    case Op::div:
      return loop([](T x, T y) { return x / y; });
    case Op::max:
      return loop([](T x, T y) { return std::max(x, y); });
    case Op::min:
      return loop([](T x, T y) { return std::min(x, y); });
    default:
      return loop([op](T x, T y) { return apply_op(op, x, y); });
  }
}

template <typename T>
T identity(Reduce r) {
  return r == Reduce::sum   ? T(0)
         : r == Reduce::max ? -std::numeric_limits<T>::infinity()
                            : std::numeric_limits<T>::infinity();
}

template <typename T>
T combine(Reduce r, T acc, T x) {
  return r == Reduce::sum ? acc + x : r == Reduce::max ? std::max(acc, x) : std::min(acc, x);
}

template <typename T>
class Executor {
 public:
  Executor(const Cascade& c, const EvalOptions& o) : c_(c), o_(o) {}

  TensorValues run(const TensorValues& inputs) {
    load(inputs);
    for (const Group& g : c_.schedule) {
      if (g.step_var.empty()) {
        run_einsum(c_.einsums[g.einsums[0]], -1, 0);
        continue;
      }
      for (int64_t step = 0; step < g.steps; ++step)
        for (EinsumId e : g.einsums) {
          const Einsum& einsum = c_.einsums[e];
          run_einsum(einsum, einsum.var_index(g.step_var), step);
        }
    }
    return values();
  }

  // Every tensor at its initial values, the inputs given.
  void load(const TensorValues& inputs) {
    for (const Tensor& t : c_.tensors) {
      std::vector<T> d(static_cast<size_t>(t.elements()), static_cast<T>(t.init.value_or(0.0)));
      if (t.is_input()) {
        const auto it = inputs.find(t.name);
        if (it == inputs.end() || it->second.size() != d.size())
          throw UserError(fmt::format("input '{}' needs {} values", t.name, d.size()));
        for (size_t i = 0; i < d.size(); ++i) d[i] = store(t.dtype, it->second[i]);
      }
      data_.push_back(std::move(d));
    }
    // A recurrence that starts from an input: its first step's elements are the input's.
    for (const Tensor& t : c_.tensors) {
      if (!t.init_from.valid()) continue;
      const std::vector<int64_t> strides = t.strides();
      const std::vector<T>& from = data_[t.init_from];
      std::vector<T>& to = data_[c_.tensor_id(t.name)];
      std::vector<int64_t> at(t.ranks.size(), 0);  // the stepped rank stays 0
      for (size_t i = 0; i < from.size(); ++i) {
        int64_t offset = 0;
        for (size_t r = 0; r < at.size(); ++r) offset += at[r] * strides[r];
        to[static_cast<size_t>(offset)] = from[i];
        for (size_t r = at.size(); r-- > 0;)
          if (static_cast<int>(r) != t.iterative_rank) {
            if (++at[r] < t.ranks[r].extent) break;
            at[r] = 0;
          }
      }
    }
  }

  TensorValues values() const {
    TensorValues out;
    for (TensorId t : c_.tensors.ids()) out[c_.tensors[t].name].assign(data_[t].begin(), data_[t].end());
    return out;
  }

  // Box by box from now on: reductions continue what they started, tracked in `started` (per tensor).
  void box_by_box(IdVector<TensorId, std::vector<char>>* started) { started_ = started; }

  // Computes Einsum e on the box [lo, hi) of its indices (step by step along `step`, its recurrence's step index,
  // when that is not -1). Box by box (box_by_box), a reduction continues where an earlier box of it wrote: the box
  // is one tile of a tiled reduction.
  void run_box(const Einsum& e, int step, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    if (step < 0) return run_einsum(e, -1, lo, hi);
    std::vector<int64_t> l = lo, h = hi;
    for (int64_t at = lo[static_cast<size_t>(step)]; at < hi[static_cast<size_t>(step)]; ++at) {
      l[static_cast<size_t>(step)] = at;
      h[static_cast<size_t>(step)] = at + 1;
      run_einsum(e, step, l, h);
    }
  }

 private:
  T store(DType t, double x) const {
    if (o_.ideal) return static_cast<T>(x);
    return static_cast<T>(round_to(t, x));
  }

  // Linear addressing of an access: element = base + sum(stride[v] * v).
  struct Linear {
    int64_t base = 0;
    std::vector<int64_t> stride;
  };

  Linear linear(const Einsum& e, const Access& a) const {
    const std::vector<int64_t> ts = c_.tensors[a.tensor].strides();
    Linear l;
    l.stride.assign(e.vars.size(), 0);
    for (size_t r = 0; r < a.index.size(); ++r) {
      l.base += ts[r] * a.index[r].constant;
      for (auto [v, coef] :
           a.index[r].terms)  // an index of extent 1 contributes nothing (and may carry any coefficient)
        if (e.vars[static_cast<size_t>(v)].extent > 1) l.stride[static_cast<size_t>(v)] += ts[r] * coef;
    }
    return l;
  }

  // The whole of e's indices, as a box [lo, hi).
  static std::pair<std::vector<int64_t>, std::vector<int64_t>> whole(const Einsum& e) {
    std::vector<int64_t> hi;
    for (const Var& v : e.vars) hi.push_back(v.extent);
    return {std::vector<int64_t>(e.vars.size(), 0), hi};
  }

  // Every point of the box [lo, hi) of e's indices, those in `skip` held at their lo, in odometer order, as
  // `visit(point)`.
  template <class Visit>
  static void each_point(const Einsum& e, const std::vector<int>& skip, const std::vector<int64_t>& lo,
                         const std::vector<int64_t>& hi, Visit visit) {
    for (size_t v = 0; v < e.vars.size(); ++v)
      if (lo[v] >= hi[v]) return;
    std::vector<int64_t> cur(lo);
    for (;;) {
      visit(cur);
      size_t v = e.vars.size();
      for (; v-- > 0;) {
        if (std::find(skip.begin(), skip.end(), static_cast<int>(v)) != skip.end()) continue;
        if (++cur[v] < hi[v]) break;
        cur[v] = lo[v];
      }
      if (v == static_cast<size_t>(-1)) return;
    }
  }

  static int64_t offset_of(const Linear& l, const std::vector<int64_t>& point) {
    int64_t off = l.base;
    for (size_t v = 0; v < point.size(); ++v) off += l.stride[v] * point[v];
    return off;
  }

  // I[b,k] = topk(m) S[b,m]: for each b, the m of the largest S first (the lower m on a tie), k-th at k. On a box,
  // among the m of the box.
  void run_topk(const Einsum& e, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    const Linear out = linear(e, e.out), in = linear(e, e.reads[0]);
    const auto m = static_cast<size_t>(e.reduced[0]);
    const auto k = static_cast<size_t>(e.topk_var);
    const T* scores = data_[e.reads[0].tensor].data();
    T* result = data_[e.out.tensor].data();
    const DType dtype = c_.tensors[e.out.tensor].dtype;
    std::vector<std::pair<T, int64_t>> row(static_cast<size_t>(hi[m] - lo[m]));
    each_point(e, {static_cast<int>(m), static_cast<int>(k)}, lo, hi, [&](std::vector<int64_t> point) {
      for (int64_t i = lo[m]; i < hi[m]; ++i) {
        point[m] = i;
        row[static_cast<size_t>(i - lo[m])] = {scores[offset_of(in, point)], i};
      }
      const int64_t kept = std::min<int64_t>(hi[k], static_cast<int64_t>(row.size()));
      std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(kept), row.end(),
                        [](const auto& a, const auto& b) {
                          return a.first > b.first || (a.first == b.first && a.second < b.second);
                        });
      point[m] = lo[m];
      for (int64_t j = lo[k]; j < kept; ++j) {
        point[k] = j;
        result[offset_of(out, point)] = store(dtype, static_cast<double>(row[static_cast<size_t>(j)].second));
      }
    });
  }

  // KS[b,e,k] = K[b,e,I[b,k]]: each gathered rank's element is its index tensor's value there.
  void run_gather(const Einsum& e, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    const Access& from = e.reads[0];
    const Tensor& source = c_.tensors[from.tensor];
    const std::vector<int64_t> strides = source.strides();
    Linear src = linear(e, from);
    struct Picked {
      size_t rank;
      Linear at;        // where the index tensor holds the row
      const T* values;  // the index tensor
    };
    std::vector<Picked> picked;
    for (size_t i = 0; i < from.gathered_ranks.size(); ++i) {
      const auto r = static_cast<size_t>(from.gathered_ranks[i]);
      for (auto [v, coef] : from.index[r].terms)  // the stand-in index counts rows, it does not address them
        if (e.vars[static_cast<size_t>(v)].extent > 1) src.stride[static_cast<size_t>(v)] -= strides[r] * coef;
      src.base -= strides[r] * from.index[r].constant;
      picked.push_back({r, linear(e, e.reads[i + 1]), data_[e.reads[i + 1].tensor].data()});
    }
    const Linear out = linear(e, e.out);
    const T* values = data_[from.tensor].data();
    T* result = data_[e.out.tensor].data();
    const DType dtype = c_.tensors[e.out.tensor].dtype;
    each_point(e, {}, lo, hi, [&](const std::vector<int64_t>& point) {
      int64_t offset = offset_of(src, point);
      for (size_t i = 0; i < picked.size(); ++i) {
        const double row = static_cast<double>(picked[i].values[offset_of(picked[i].at, point)]);
        const Rank& rank = source.ranks[picked[i].rank];
        if (!(row >= 0 && row < static_cast<double>(rank.extent)) || std::floor(row) != row)
          throw UserError(
              e.loc, e.name,
              fmt::format("Einsum {}: index tensor '{}' holds {} where it picks a row of rank {} of '{}' "
                          "(extent {})",
                          e.name, c_.tensors[e.reads[i + 1].tensor].name, row, rank.name, source.name, rank.extent));
        offset += static_cast<int64_t>(row) * strides[picked[i].rank];
      }
      result[offset_of(out, point)] = store(dtype, static_cast<double>(values[offset]));
    });
  }

  // Runs one Einsum, or one step of it when `fixed` names the index held at `at`.
  void run_einsum(const Einsum& e, int fixed, int64_t at) {
    auto [lo, hi] = whole(e);
    if (fixed >= 0) {
      lo[static_cast<size_t>(fixed)] = at;
      hi[static_cast<size_t>(fixed)] = at + 1;
    }
    run_einsum(e, fixed, lo, hi);
  }

  // The box [lo, hi) of it (which holds one element of the index `fixed` names, if any).
  void run_einsum(const Einsum& e, int fixed, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    compute_einsum(e, fixed, lo, hi);
    if (e.guard >= 0) apply_guard(e, lo, hi);
  }

  // `when G[...]`: the elements whose guard is zero are not computed; they hold 0. (The interpreter computes them
  // and then clears them: it checks values, the evaluators charge only the guarded work.)
  void apply_guard(const Einsum& e, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    const Access& g = e.reads[static_cast<size_t>(e.guard)];
    const Linear out = linear(e, e.out), at = linear(e, g);
    const T* guard = data_[g.tensor].data();
    T* result = data_[e.out.tensor].data();
    each_point(e, e.reduced, lo, hi, [&](const std::vector<int64_t>& point) {
      if (guard[offset_of(at, point)] == T(0)) result[offset_of(out, point)] = T(0);
    });
  }

  // Computes the box [lo, hi) of one Einsum's indices (one step of it when `fixed` names the index held there).
  // The innermost loop runs along one index as whole rows, so the program is interpreted once per row, not once
  // per element.
  void compute_einsum(const Einsum& e, int fixed, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi) {
    if (e.reduce == Reduce::topk) {
      if (fixed >= 0) throw UserError(e.loc, e.name, "topk cannot be a step of a recurrence");
      return run_topk(e, lo, hi);
    }
    if (e.gathers()) {
      if (fixed >= 0) throw UserError(e.loc, e.name, "a gather cannot be a step of a recurrence");
      return run_gather(e, lo, hi);
    }
    const size_t nv = e.vars.size();
    for (size_t v = 0; v < nv; ++v)
      if (lo[v] >= hi[v]) return;
    const Linear out = linear(e, e.out);
    std::vector<Linear> reads;
    for (const Access& a : e.reads) reads.push_back(linear(e, a));

    int inner = -1;
    int64_t best = 0;
    for (size_t v = 0; v < nv; ++v) {
      int64_t unit = 1 + (std::abs(out.stride[v]) == 1);
      for (const Linear& l : reads) unit += std::abs(l.stride[v]) == 1;
      const int64_t score = (hi[v] - lo[v]) * unit;
      if (hi[v] - lo[v] > 1 && score > best) {
        best = score;
        inner = static_cast<int>(v);
      }
    }
    const int64_t n = inner >= 0 ? hi[static_cast<size_t>(inner)] - lo[static_cast<size_t>(inner)] : 1;
    const bool reduces = !e.reduced.empty();
    const bool inner_reduced = std::find(e.reduced.begin(), e.reduced.end(), inner) != e.reduced.end();
    std::vector<int> outer_vars, red_vars;
    for (size_t v = 0; v < nv; ++v) {
      if (static_cast<int>(v) == inner) continue;
      (std::find(e.reduced.begin(), e.reduced.end(), static_cast<int>(v)) != e.reduced.end() ? red_vars : outer_vars)
          .push_back(static_cast<int>(v));
    }
    auto inner_stride = [&](const Linear& l) { return inner >= 0 ? l.stride[static_cast<size_t>(inner)] : 0; };

    const size_t np = e.program.size();
    std::vector<std::vector<T>> buffers(np);
    std::vector<Value<T>> values(np);
    for (size_t i = 0; i < np; ++i) buffers[i].resize(static_cast<size_t>(n));
    std::vector<T> acc(static_cast<size_t>(inner_reduced ? 1 : n));
    const Tensor& out_tensor = c_.tensors[e.out.tensor];
    // A sum into an integer tensor (int8 x int8 into int32) accumulates exactly, as integer hardware does: in
    // fp64, exact for sums below 2^53; the store saturates to the type's range.
    const bool exact = reduces && e.reduce == Reduce::sum && dtype_is_integer(out_tensor.dtype);
    std::vector<double> acc_exact(exact ? acc.size() : 0);
    const bool round =
        !o_.ideal && out_tensor.dtype != DType::fp64 && !(out_tensor.dtype == DType::fp32 && sizeof(T) == 4);
    T* out_data = data_[e.out.tensor].data();
    const int64_t out_step = inner_reduced ? 0 : inner_stride(out);

    std::vector<int64_t> cur(lo);
    auto offset = [&](const Linear& l) {
      int64_t off = l.base;
      for (size_t v = 0; v < nv; ++v)
        if (static_cast<int>(v) != inner) off += l.stride[v] * cur[v];
      return off + (inner >= 0 ? l.stride[static_cast<size_t>(inner)] * lo[static_cast<size_t>(inner)] : 0);
    };
    // Advances an odometer over `vars`; false when it wraps around.
    auto advance = [&](const std::vector<int>& vars) {
      for (size_t k = vars.size(); k-- > 0;) {
        const size_t v = static_cast<size_t>(vars[k]);
        if (++cur[v] < hi[v]) return true;
        cur[v] = lo[v];
      }
      return false;
    };

    // The part [first, last) of the row along `inner` that the where clause keeps, at the other indices' values.
    const bool masked = !e.where.empty();
    std::vector<int64_t> box_lo(nv), box_hi(nv);
    auto kept_range = [&]() -> std::pair<int64_t, int64_t> {
      if (!masked) return {0, n};
      for (size_t v = 0; v < nv; ++v) box_lo[v] = box_hi[v] = cur[v];
      int64_t first = 0, last = n;
      if (inner < 0) return {0, box_may_satisfy(box_lo, box_hi, e.where) ? 1 : 0};
      const size_t in = static_cast<size_t>(inner);
      // One constraint at a time narrows the interval; each is affine in the inner index.
      for (const Constraint& c : e.where) {
        int64_t sum = c.expr.constant;
        for (auto [v, k] : c.expr.terms)
          if (static_cast<size_t>(v) != in) sum += k * cur[static_cast<size_t>(v)];
        const int64_t k = c.expr.coefficient(inner);
        auto holds = [&](int64_t x) {
          const int64_t value = sum + k * (lo[in] + x);
          return c.equal ? value == 0 : value <= 0;
        };
        if (k == 0) {
          if (!holds(0)) return {0, 0};
          continue;
        }
        // The points that hold form an interval (one point for ==): find its ends by the sign of k.
        int64_t a = first, b = last;
        if (c.equal) {
          const int64_t x = -sum - k * lo[in];
          if (x % k != 0) return {0, 0};
          a = std::max(first, x / k);
          b = std::min(last, x / k + 1);
        } else if (k > 0) {  // holds for x <= bound
          const int64_t num = -sum - k * lo[in];
          const int64_t bound = num >= 0 ? num / k : -((-num + k - 1) / k);
          b = std::min(last, bound + 1);
        } else {                                 // holds for x >= bound
          const int64_t num = sum + k * lo[in];  // -k x <= ... : x >= num / -k rounded up
          const int64_t d = -k;
          const int64_t bound = num >= 0 ? (num + d - 1) / d : -((-num) / d);
          a = std::max(first, bound);
        }
        first = a;
        last = std::max(a, b);
      }
      return {first, last};
    };

    // A recurrence's masked step carries its state: the element keeps the previous step's value (the output is
    // written at the step index + offset, so the previous step's element is one step stride back).
    const int64_t carry = masked && fixed >= 0 && out_tensor.iterative_rank >= 0
                              ? out_tensor.strides()[static_cast<size_t>(out_tensor.iterative_rank)]
                              : 0;
    // A part of a tensor written in parts writes only the elements it keeps; the other parts write the rest.
    const bool part = !out_tensor.pieces.empty();
    int64_t kept_first = 0, kept_last = n;  // of the row just computed (a recurrence or a part reduces nothing)
    // Box by box (started_ set), a reduction continues at the elements of its result an earlier box started and
    // starts the others: its first box over an element need not be the one at the reduced indices' first values (a
    // where clause may skip that one).
    std::vector<char>* started = started_ && reduces ? &(*started_)[e.out.tensor] : nullptr;
    if (started && started->empty()) started->assign(static_cast<size_t>(out_tensor.elements()), 0);
    do {
      std::fill(acc.begin(), acc.end(), identity<T>(e.reduce));
      std::fill(acc_exact.begin(), acc_exact.end(), 0.0);
      if (started) {
        const int64_t base = offset(out);
        for (size_t k = 0; k < acc.size(); ++k) {
          const int64_t at = base + static_cast<int64_t>(k) * out_step;
          if (!(*started)[static_cast<size_t>(at)]) continue;
          acc[k] = out_data[at];
          if (!acc_exact.empty()) acc_exact[k] = static_cast<double>(out_data[at]);
        }
      }
      do {
        const auto [k0, k1] = kept_range();
        kept_first = k0;
        kept_last = k1;
        if (k0 >= k1) continue;  // nothing of this row is computed
        // Only the kept part is computed (a masked point may read outside a tensor: a causal convolution's
        // t - k < 0), as values [0, m) standing for row positions [k0, k1).
        const int64_t m = k1 - k0;
        for (size_t i = 0; i < np; ++i) {
          const Node& node = e.program[i];
          Value<T>& val = values[i];
          if (node.op == Op::constant) {
            val = Value<T>{nullptr, static_cast<T>(node.value)};
          } else if (node.op == Op::read) {
            const Linear& l = reads[static_cast<size_t>(node.read)];
            const int64_t s = inner_stride(l);
            const T* src = data_[e.reads[static_cast<size_t>(node.read)].tensor].data() + offset(l) + s * k0;
            if (s == 0) {
              val = Value<T>{nullptr, *src};
            } else if (s == 1) {
              val = Value<T>{src, 0};
            } else {
              T* buf = buffers[i].data();
              for (int64_t k = 0; k < m; ++k) buf[k] = src[k * s];
              val = Value<T>{buf, 0};
            }
          } else if (node.op == Op::select) {
            const Value<T> cond = values[static_cast<size_t>(node.c)];
            const Value<T> a = values[static_cast<size_t>(node.a)];
            const Value<T> b = values[static_cast<size_t>(node.b)];
            if (!cond.varying() && !a.varying() && !b.varying()) {
              val = Value<T>{nullptr, apply_select(cond.scalar, a.scalar, b.scalar)};
            } else {
              T* buf = buffers[i].data();
              for (int64_t k = 0; k < m; ++k) buf[k] = apply_select(cond.at(k), a.at(k), b.at(k));
              val = Value<T>{buf, 0};
            }
          } else {
            const Value<T> a = values[static_cast<size_t>(node.a)];
            const Value<T> b = node.b >= 0 ? values[static_cast<size_t>(node.b)] : Value<T>{nullptr, 0};
            if (!a.varying() && !b.varying()) {
              val = Value<T>{nullptr, apply_op(node.op, a.scalar, b.scalar)};
            } else {
              apply_row(node.op, buffers[i].data(), a, b, m);
              val = Value<T>{buffers[i].data(), 0};
            }
          }
        }
        const Value<T> r = values[np - 1];
        if (!reduces) {
          for (int64_t k = k0; k < k1; ++k) acc[static_cast<size_t>(k)] = r.at(k - k0);
        } else if (exact) {
          for (int64_t k = k0; k < k1; ++k)
            acc_exact[inner_reduced ? 0 : static_cast<size_t>(k)] += static_cast<double>(r.at(k - k0));
        } else if (inner_reduced) {
          T row = identity<T>(e.reduce);
          if (r.varying()) {
            for (int64_t k = 0; k < m; ++k) row = combine(e.reduce, row, r.row[k]);
          } else {
            row = e.reduce == Reduce::sum ? r.scalar * static_cast<T>(k1 - k0) : r.scalar;
          }
          acc[0] = combine(e.reduce, acc[0], row);
        } else {
          for (int64_t k = k0; k < k1; ++k)
            acc[static_cast<size_t>(k)] = combine(e.reduce, acc[static_cast<size_t>(k)], r.at(k - k0));
        }
      } while (advance(red_vars));
      T* dst = out_data + offset(out);
      for (size_t k = 0; k < acc.size(); ++k) {
        const bool kept = static_cast<int64_t>(k) >= kept_first && static_cast<int64_t>(k) < kept_last;
        if (part && !kept) continue;
        if (started) (*started)[static_cast<size_t>(dst - out_data + static_cast<int64_t>(k) * out_step)] = 1;
        if (carry && !kept)
          dst[static_cast<int64_t>(k) * out_step] = dst[static_cast<int64_t>(k) * out_step - carry];
        else
          dst[static_cast<int64_t>(k) * out_step] =
              exact   ? static_cast<T>(o_.ideal ? acc_exact[k] : round_to(out_tensor.dtype, acc_exact[k]))
              : round ? static_cast<T>(round_to(out_tensor.dtype, acc[k]))
                      : acc[k];
      }
    } while (advance(outer_vars));
  }

  // Box by box (the BoxEvaluator): per tensor, which elements a reduction has written so far. Null: whole Einsums.
  IdVector<TensorId, std::vector<char>>* started_ = nullptr;

  const Cascade& c_;
  const EvalOptions& o_;
  IdVector<TensorId, std::vector<T>> data_;  // per tensor
};

}  // namespace

std::vector<double> random_values(const std::string& name, int64_t elements, uint64_t seed) {
  uint64_t state = seed ^ fnv1a(name);
  std::vector<double> out(static_cast<size_t>(elements));
  for (double& x : out) x = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-52 - 1.0;
  return out;
}

namespace {

// Channels spread evenly along the tensor's outlier rank (every extent/outlier_channels-th index, from 0) are
// scaled by outlier_scale: the systematic large activation columns LLM.int8() is about.
void plant_outliers(const Cascade& c, const Tensor& t, std::vector<double>& v) {
  const int64_t channels = static_cast<int64_t>(c.param("outlier_channels")->value);
  if (channels <= 0) return;
  const double scale = c.param("outlier_scale")->value;
  const int64_t extent = t.ranks[static_cast<size_t>(t.outlier_rank)].extent;
  const int64_t stride = t.strides()[static_cast<size_t>(t.outlier_rank)];
  const int64_t every = std::max<int64_t>(1, extent / channels);
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t index = static_cast<int64_t>(i) / stride % extent;
    if (index % every == 0 && index / every < channels) v[i] *= scale;
  }
}

// The interpreter holds every tensor in memory (in its arithmetic's type, and once more as doubles for its
// result); a cascade that needs more than half of this machine's memory is refused before anything is allocated.
// `per_element` bytes for every tensor (0: inputs only) and `per_input` more for each input's values.
void check_memory(const Cascade& c, size_t per_element, size_t per_input) {
  double need = 0;
  for (const Tensor& t : c.tensors)
    need += static_cast<double>(t.elements()) * static_cast<double>(per_element + (t.is_input() ? per_input : 0));
  const double have = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (need > have / 2)
    throw UserError(SourceLoc{c.file}, "",
                    fmt::format("evaluating needs about {} for its tensors, more than half of this machine's {}: use "
                                "smaller params",
                                format_bytes(need), format_bytes(have)));
}

}  // namespace

TensorValues random_inputs(const Cascade& c, uint64_t seed) {
  check_memory(c, 0, sizeof(double));
  TensorValues out;
  for (const Tensor& t : c.tensors)
    if (t.is_input()) {
      std::vector<double> v = random_values(t.name, t.elements(), seed);
      // Narrow integers (a quantized plane's codes) take every value of their type, evenly: int8 -128..127.
      if (dtype_is_integer(t.dtype) && dtype_bits(t.dtype) <= 8) {
        const double levels = std::exp2(static_cast<double>(dtype_bits(t.dtype)));
        const double lowest = t.dtype == DType::uint4 ? 0 : -levels / 2;
        for (double& x : v) x = lowest + std::floor((x + 1) / 2 * levels);
      }
      if (t.outlier_rank >= 0) plant_outliers(c, t, v);
      out[t.name] = std::move(v);
    }
  return out;
}

void check_ops(const Cascade& c, double max_ops) {
  const double ops = total_ops(c);
  if (ops > max_ops)
    throw UserError(SourceLoc{c.file}, "",
                    fmt::format("evaluating takes {:.3g} operations, above --max-ops {:.3g} (the interpreter runs "
                                "1-2 ns per operation): pass a larger --max-ops, or use smaller params",
                                ops, max_ops));
}

TensorValues evaluate(const Cascade& c, const TensorValues& inputs, const EvalOptions& options) {
  check_memory(c, (options.fp64 ? sizeof(double) : sizeof(float)) + sizeof(double), sizeof(double));
  if (options.fp64) return Executor<double>(c, options).run(inputs);
  return Executor<float>(c, options).run(inputs);
}

struct BoxEvaluator::Impl {
  const Cascade& cascade;
  EvalOptions options{true, true};
  Executor<double> executor;
  IdVector<EinsumId, int> step;                   // per Einsum: its recurrence's step index, or -1
  IdVector<TensorId, std::vector<char>> started;  // per tensor: the elements a reduction has written
  Impl(const Cascade& c) : cascade(c), executor(c, options), step(c.einsums.size(), -1), started(c.tensors.size()) {
    executor.box_by_box(&started);
    for (const Group& g : c.schedule)
      if (!g.step_var.empty())
        for (EinsumId e : g.einsums) step[e] = c.einsums[e].var_index(g.step_var);
  }
};

BoxEvaluator::BoxEvaluator(const Cascade& c, const TensorValues& inputs) : impl_(std::make_unique<Impl>(c)) {
  check_memory(c, 2 * sizeof(double), sizeof(double));
  impl_->executor.load(inputs);
}

BoxEvaluator::~BoxEvaluator() = default;

void BoxEvaluator::compute(EinsumId e, std::vector<int64_t> lo, std::vector<int64_t> hi) {
  const Einsum& einsum = impl_->cascade.einsums[e];
  for (size_t v = 0; v < einsum.vars.size(); ++v) hi[v] = std::min(hi[v], einsum.vars[v].extent);
  impl_->executor.run_box(einsum, impl_->step[e], lo, hi);
}

TensorValues BoxEvaluator::values() const { return impl_->executor.values(); }

ErrorStats compare_values(const std::vector<double>& a, const std::vector<double>& reference) {
  if (a.size() != reference.size()) throw InternalError("compare_values: sizes differ");
  ErrorStats s;
  double abs_sum = 0, ref_sum = 0, signal = 0, noise = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(a[i] - reference[i]);
    abs_sum += err;
    ref_sum += std::fabs(reference[i]);
    signal += reference[i] * reference[i];
    noise += err * err;
    const double rel = err / std::max(std::fabs(reference[i]), static_cast<double>(std::numeric_limits<float>::min()));
    // NaN must not hide: a NaN error counts as infinite.
    s.max_abs_err = std::max(s.max_abs_err, std::isnan(err) ? INFINITY : err);
    s.max_rel_err = std::max(s.max_rel_err, std::isnan(rel) ? INFINITY : rel);
  }
  s.mean_rel_err = abs_sum == 0 ? 0.0 : ref_sum == 0 ? INFINITY : abs_sum / ref_sum;
  s.snr_db = noise == 0 ? INFINITY : std::isnan(noise) ? -INFINITY : 10 * std::log10(signal / noise);
  return s;
}

}  // namespace einsim
