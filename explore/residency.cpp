#include "explore/residency.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "common/units.hpp"
#include "explore/evaluate.hpp"
#include "explore/mapper.hpp"
#include "mappings/lower.hpp"

namespace einsim {

namespace {

// One part's share of what a point keeps, for a refusal's reason: "attention 32 x 594.13 MiB".
void add_term(std::string& terms, const std::string& part, const std::string& what) {
  terms += fmt::format("{}{} {}", terms.empty() ? "" : ", ", part, what);
}

// Why a point (or each stage of its pipeline) does not fit its memory, its parts' terms listed.
std::string over_capacity(std::string_view who, double need, const std::string& backing, const std::string& terms,
                          double capacity) {
  return fmt::format("{} keeps {} in '{}' on each device ({}), more than its capacity of {}", who, format_bytes(need),
                     backing, terms, format_bytes(capacity));
}

}  // namespace

void check_capacity(const SweepPoint& point, const std::vector<std::pair<std::string, Stats>>& parts, SpecCache& specs,
                    Stats& s) {
  double need = 0, capacity = 0;
  std::string backing, terms;
  for (const SweepPart& part : point.parts) {
    const int64_t copies = part_resident(part, &point);
    const auto p = std::find_if(parts.begin(), parts.end(), [&](const auto& x) { return x.first == part.name; });
    if (copies == 0 || p == parts.end()) continue;
    const ResolvedSpecs r = specs.resolve(inputs_of(part));
    const double c = r.arch->find(r.mapping->backing)->path()->capacity_bytes();
    if (c > 0 && (capacity == 0 || c < capacity)) capacity = c, backing = r.mapping->backing;
    const double bytes = static_cast<double>(copies) * static_cast<double>(p->second.footprint_bytes);
    need += bytes;
    add_term(terms, part.name,
             fmt::format("{} x {}", copies, format_bytes(static_cast<double>(p->second.footprint_bytes))));
  }
  if (capacity > 0 && need > capacity)
    s.status = EvalStatus{false, over_capacity("the point", need, backing, terms, capacity)};
}

Residency::Residency(const SweepPoint& point,
                     const std::vector<std::pair<std::string, std::shared_ptr<const ChosenMapping>>>& mapped,
                     SpecCache& specs, const PipelineRun* run)
    : point_(point), specs_(specs), pipelined_(run != nullptr) {
  for (const auto& [axis, value] : point.axes)
    if (axis == point.fit) value_ = std::stoll(value);  // checked on load: a positive integer
  if (run) stages_ = run->stages, micro_batches_ = run->micro_batches;
  for (size_t i = 0; i < point.parts.size(); ++i) {
    const SweepPart& part = point.parts[i];
    Part p;
    p.name = part.name;
    p.written = point.part_templates[i];
    p.copies = part_resident(part, &point);
    if (p.copies == 0) continue;
    p.in = inputs_of(part);
    for (const auto& [name, chosen] : mapped)
      if (name == part.name) p.in = chosen->inputs;
    const ResolvedSpecs r = specs.resolve(p.in);
    const MappingSpec mapping = p.in.map ? with_choice(*r.mapping, p.in.choice) : *r.mapping;
    const double c = r.arch->find(mapping.backing)->path()->capacity_bytes();
    if (c > 0 && (capacity_ == 0 || c < capacity_)) capacity_ = c, backing_ = mapping.backing;
    p.shares = lower(*r.cascade, *r.arch, mapping).held_shares;
    if (p.shares.empty()) {  // lowering stopped early, infeasible for another reason: nothing to count
      parts_.clear();
      return;
    }
    if (pipelined_) {  // a tensor whose size changes with the axis is a micro-batch's own
      const Cascade twice = specs.bind(at(p, 2 * value_));
      p.per_micro_batch = IdVector<TensorId, char>(r.cascade->tensors.size());
      for (TensorId t : r.cascade->tensors.ids())
        p.per_micro_batch[t] = r.cascade->tensors[t].bytes() != twice.tensors[t].bytes();
    }
    parts_.push_back(std::move(p));
  }
}

SpecInputs Residency::at(const Part& p, int64_t v) const {
  std::map<std::string, std::string> vars = point_.vars;
  vars[point_.fit] = std::to_string(v);
  SpecInputs in = p.in;
  in.workload_overrides = inputs_of(substituted(p.written, vars)).workload_overrides;
  return in;
}

double Residency::need(int64_t v, std::string* terms) const {
  double bytes = 0;
  for (const Part& p : parts_) {
    const Cascade c = specs_.bind(at(p, v));
    if (!pipelined_) {
      const double one = static_cast<double>(held_bytes(c, p.shares));
      bytes += static_cast<double>(p.copies) * one;
      if (terms) add_term(*terms, p.name, fmt::format("{} x {}", p.copies, format_bytes(one)));
      continue;
    }
    IdVector<TensorId, int64_t> shared = p.shares, own = p.shares;  // held once a layer; once a micro-batch
    for (TensorId t : c.tensors.ids()) (p.per_micro_batch[t] ? shared : own)[t] = 0;
    const int64_t layers = ceil_div(p.copies, stages_);
    const double weights = static_cast<double>(held_bytes(c, shared)), each = static_cast<double>(held_bytes(c, own));
    bytes += static_cast<double>(layers) * (weights + static_cast<double>(micro_batches_) * each);
    if (terms)
      add_term(*terms, p.name,
               fmt::format("{} x ({} + {} x {})", layers, format_bytes(weights), micro_batches_, format_bytes(each)));
  }
  return bytes;
}

std::string Residency::overflow() const {
  if (!counted()) return {};
  std::string terms;
  const double bytes = need(value_, &terms);
  if (bytes <= capacity_) return {};
  return over_capacity(pipelined_ ? "each stage" : "the point", bytes, backing_, terms, capacity_);
}

std::optional<int64_t> Residency::largest() const {
  if (!counted()) return std::nullopt;
  auto bytes = [&](int64_t v) -> std::optional<double> {
    try {
      return need(v);
    } catch (const UserError&) {
      return std::nullopt;  // the parts' params do not bind at this value
    }
  };
  // The values searched are multiples of a step: the smallest divisor of the point's value (with a pipeline, a
  // multiple of its micro-batches) at which the parts bind. A MoE layer's tokens, say, must spread evenly over
  // its experts.
  std::vector<int64_t> divisors;  // of the point's value, multiples of the micro-batches, in increasing order
  for (int64_t d = 1; d * d <= value_; ++d)
    if (value_ % d == 0)
      for (const int64_t x : {d, value_ / d})
        if (x % micro_batches_ == 0) divisors.push_back(x);
  std::sort(divisors.begin(), divisors.end());
  const auto binds = std::find_if(divisors.begin(), divisors.end(), [&](int64_t d) { return bytes(d).has_value(); });
  const int64_t step = binds == divisors.end() ? value_ : *binds;
  auto fits = [&](int64_t k) {
    const std::optional<double> b = bytes(k * step);
    return b && *b <= capacity_;
  };
  if (!fits(1)) return 0;
  constexpr int64_t kLimit = int64_t{1} << 40;  // a batch this large fitting: nothing grows with the axis
  int64_t lo = 1, hi = 2;                       // fits(lo), and hi is to be tried
  while (fits(hi)) {
    lo = hi;
    if (hi > kLimit / step) return std::nullopt;
    hi *= 2;
  }
  while (hi - lo > 1) {  // fits(lo), !fits(hi)
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo * step;
}

}  // namespace einsim
