#include "explore/evaluate.hpp"

#include <fmt/format.h>

#include "common/overrides.hpp"
#include "explore/mapper.hpp"
#include "mappings/lower.hpp"
#include "sim/analytical.hpp"
#include "workloads/expr.hpp"

namespace einsim {

SpecInputs inputs_of(const SweepPart& part) {
  SpecInputs in;
  in.mapping = part.mapping;
  in.map = part.map;
  in.arch = part.arch;
  in.workload = part.workload;
  in.workload_overrides.param_files = part.params;
  DesignOverrides o;
  for (const auto& [k, v] : part.sets)
    add_override(o, k, v, part.locs.at("mapping"), "parts." + part.name + ".set." + k);  // checked on load
  in.workload_overrides.params = std::move(o.workload);
  in.arch_sets = std::move(o.arch);
  return in;
}

int64_t part_count(const SweepPart& part, const SweepPoint* at) {
  auto fail = [&](const std::string& why) {
    std::string where;
    if (at)
      for (const auto& [ax, v] : at->axes) where += (where.empty() ? " (at " : ", ") + ax + "=" + v;
    throw UserError(part.locs.count("count") ? part.locs.at("count") : SourceLoc{}, "parts." + part.name + ".count",
                    fmt::format("count '{}': {}{}", part.count, why, where.empty() ? "" : where + ")"));
  };
  int64_t n = 0;
  try {
    n = evaluate_integer(
        parse_expression(part.count),
        [&](const std::string& name) -> int64_t {
          fail("unknown name '" + name + "'");
          return 0;
        },
        fail);
  } catch (const SyntaxError& e) {
    fail(e.message);
  }
  if (n < 0) fail("a part runs zero or more times");
  return n;
}

namespace {

// One part's Stats, run `count` times. A part that names constraints evaluates the mapper's choice for them
// (chosen once per design, at both fidelities the same).
Stats evaluate_part(const SweepPart& part, Fidelity fidelity, int64_t count, const std::string& exe, SpecCache& specs,
                    Outcome& out) {
  SpecInputs in = inputs_of(part);
  if (fidelity == Fidelity::cycle && !in.map) return repeated(run_worker(exe, in, part.name, out), count);
  const ResolvedSpecs r = specs.resolve(in);
  if (in.map)
    in.tiles = *specs.chosen_tiles(
        in, [&] { return std::make_shared<const SpecCache::Tiles>(best_tiles(*r.cascade, *r.arch, *r.mapping)); });
  if (fidelity == Fidelity::cycle) return repeated(run_worker(exe, in, part.name, out), count);
  const MappingSpec mapping = in.map ? with_tiles(*r.mapping, in.tiles) : *r.mapping;
  AnalyticalEvaluator analytical;
  return repeated(analytical.evaluate(*r.cascade, *r.arch, lower(*r.cascade, *r.arch, mapping)), count);
}

}  // namespace

Outcome evaluate(const SweepPoint& point, const std::string& exe, SpecCache& specs) {
  Outcome out;
  std::vector<std::pair<std::string, Stats>> parts;
  for (const SweepPart& part : point.parts) {
    // Whatever goes wrong with one point is that point's error row: the sweep and its other points go on.
    auto failed = [&](const std::string& why) {
      out.status = PointStatus::error;
      out.reason = part.name + ": " + why;
      return out;
    };
    try {
      const int64_t count = part_count(part);
      if (count == 0) continue;  // this point has none of it (a dense model's MoE layers)
      parts.emplace_back(part.name, evaluate_part(part, point.fidelity, count, exe, specs, out));
      if (out.status != PointStatus::ok) return out;
    } catch (const UserError& e) {
      return failed(e.what());
    } catch (const std::bad_alloc&) {
      return failed("out of memory");
    } catch (const std::exception& e) {
      return failed(fmt::format("internal error: {} (an einsim bug: please report it with this point)", e.what()));
    }
  }
  if (parts.empty()) {
    out.status = PointStatus::error;
    out.reason = "every part of this point runs zero times";
    return out;
  }
  out.stats = add_parts(parts);
  if (!out.stats.status.ok) {
    out.status = PointStatus::infeasible;
    out.reason = out.stats.status.reason;
  }
  return out;
}

}  // namespace einsim
