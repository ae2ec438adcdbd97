#include "explore/evaluate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>
#include <functional>
#include <cmath>
#include <tuple>

#include "common/overrides.hpp"
#include "common/units.hpp"
#include "explore/mapper.hpp"
#include "explore/residency.hpp"
#include "mappings/lower.hpp"
#include "sim/analytical.hpp"
#include "workloads/expr.hpp"

namespace einsim {

SpecInputs inputs_of(const SweepPart& part) {
  SpecInputs in;
  in.mapping = part.mapping;
  in.map = part.map;
  in.ragged = part.ragged;
  in.rerank_cycle = part.rerank_cycle;
  in.fuse = part.fuse;
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

namespace {

// The axes of a point, for a message: " (at seq=1024, config=flat)", or empty.
std::string at_axes(const SweepPoint* at) {
  std::string where;
  if (at)
    for (const auto& [ax, v] : at->axes) where += (where.empty() ? " (at " : ", ") + ax + "=" + v;
  return where.empty() ? where : where + ")";
}

// An expression of a point's after substitution (names none): its value; `fail` (which throws) says why not.
template <class Number>  // int64_t: an integer expression; double: a real one
Number point_value(const std::string& text, const std::function<void(const std::string&)>& fail) {
  try {
    auto unknown = [&](const std::string& name) -> Number {
      fail("unknown name '" + name + "'");
      return 0;
    };
    if constexpr (std::is_same_v<Number, int64_t>)
      return evaluate_integer(parse_expression(text), unknown, fail);
    else
      return evaluate_real(parse_expression(text), unknown, fail);
  } catch (const SyntaxError& e) {
    fail(e.message);
  }
  return 0;
}

// A part's integer expression (`count`, `resident`) after substitution: zero or more.
int64_t part_integer(const SweepPart& part, const std::string& key, const std::string& text, const SweepPoint* at) {
  auto fail = [&](const std::string& why) {
    throw UserError(part.locs.count(key) ? part.locs.at(key) : SourceLoc{}, "parts." + part.name + "." + key,
                    fmt::format("{} '{}': {}{}", key, text, why, at_axes(at)));
  };
  const int64_t n = point_value<int64_t>(text, fail);
  if (n < 0) fail(key == "count" ? "a part runs zero or more times" : "a part keeps zero or more copies");
  return n;
}

}  // namespace

int64_t part_count(const SweepPart& part, const SweepPoint* at) { return part_integer(part, "count", part.count, at); }

int64_t part_resident(const SweepPart& part, const SweepPoint* at) {
  return part.resident.empty() ? 0 : part_integer(part, "resident", part.resident, at);
}

namespace {

// One part's Stats, run once. A part that names constraints evaluates the mapper's choice for them (chosen once per
// design, at both fidelities the same).
Stats evaluate_part(const SweepPart& part, Fidelity fidelity, const std::string& exe, SpecCache& specs, Outcome& out) {
  SpecInputs in = inputs_of(part);
  if (fidelity == Fidelity::cycle && !in.map) return run_worker(exe, in, part.name, out);
  if (in.map) {
    const std::shared_ptr<const ChosenMapping> chosen = specs.chosen(in, [&] {
      ChosenMapping c = choose_mapping(in, specs, std::max(5, in.rerank_cycle));
      if (in.rerank_cycle > 0)  // the best few simulated, each in its own worker process
        c = reranked(std::move(c), in.rerank_cycle, [&](const SpecInputs& candidate) -> std::optional<int64_t> {
          Outcome o;
          const Stats s = run_worker(exe, candidate, part.name, o);
          if (o.status != PointStatus::ok || !s.status.ok) return std::nullopt;
          return s.cycles;
        });
      return std::make_shared<const ChosenMapping>(std::move(c));
    });
    in = chosen->inputs;
    out.mapped.emplace_back(part.name, chosen);
  }
  if (fidelity == Fidelity::cycle) return run_worker(exe, in, part.name, out);
  const ResolvedSpecs r = specs.resolve(in);
  const MappingSpec mapping = in.map ? with_choice(*r.mapping, in.choice) : *r.mapping;
  AnalyticalEvaluator analytical;
  return analytical.evaluate(*r.cascade, *r.arch, lower(*r.cascade, *r.arch, mapping));
}

// A pipeline's number (`stages`, `micro_batches`, `send_bytes`) at a point.
double pipeline_number(const SweepPoint& point, const std::string& key, const std::string& text) {
  auto fail = [&](const std::string& why) {
    throw UserError(point.pipeline->loc, "pipeline." + key, fmt::format("'{}': {}{}", text, why, at_axes(&point)));
  };
  const double v = point_value<double>(text, fail);
  if (key != "send_bytes" && (v < 1 || v != std::floor(v))) fail("give a whole number, 1 or more");
  if (v < 0) fail("give zero or more bytes");
  return v;
}

// The parts' layers of one micro-batch (each part's Stats of one layer and its count) as a pass or step of the
// point's pipeline (explore/pipeline.hpp): its cycles the closed form's, its work, traffic and energy every
// micro-batch's through every layer, with the hand-overs' energy on the links of the first part's architecture.
Stats pipelined(const SweepPoint& point, const std::vector<std::tuple<std::string, Stats, int64_t>>& layers,
                SpecCache& specs, PipelineRun& run) {
  const PipelineSpec& spec = *point.pipeline;
  run.stages = static_cast<int64_t>(pipeline_number(point, "stages", spec.stages));
  run.micro_batches = static_cast<int64_t>(pipeline_number(point, "micro_batches", spec.micro_batches));
  run.send_bytes = pipeline_number(point, "send_bytes", spec.send_bytes);
  std::vector<std::pair<std::string, Stats>> all;
  for (const auto& [name, one, count] : layers) {
    run.stage_cycles += ceil_div(count, run.stages) * one.cycles;
    all.emplace_back(name, repeated(one, count));
  }
  Stats s = repeated(add_parts(all), run.micro_batches);
  if (!s.status.ok) return s;
  const ArchSpec& arch = *specs.resolve(inputs_of(point.parts.front())).arch;
  const int64_t sends = pipeline_sends(spec.schedule, run.stages);
  const ComponentSpec* links = arch.interconnect();
  if (sends > 0 && !links)
    throw UserError(spec.loc, "pipeline",
                    fmt::format("{} stages hand their activations over links: {} has no interconnect to say what "
                                "they carry",
                                run.stages, arch.file));
  if (sends > 0) {
    const DevicesRole& d = *arch.devices();
    run.send_cycles =
        static_cast<int64_t>(std::ceil((d.link_latency_s() + run.send_bytes / d.link_Bps()) * arch.clock_hz));
    const double pJ = static_cast<double>(run.micro_batches * sends) * run.send_bytes * d.link_pJ_per_byte();
    s.energy_by_action_pJ[links->name]["hand_over"] += pJ;
    s.energy_breakdown_pJ[links->name] += pJ;
    s.energy_pJ += pJ;
  }
  const int64_t serial = s.cycles;  // every micro-batch through every layer, one after another
  s.cycles = pipeline_cycles(spec.schedule, run.stages, run.micro_batches, run.stage_cycles, run.send_cycles);
  s.latency_s = static_cast<double>(s.cycles) / arch.clock_hz;
  run.bubble =
      s.cycles ? 1 - static_cast<double>(run.micro_batches * run.stage_cycles) / static_cast<double>(s.cycles) : 0;
  // The work is shared by the stages' devices: each unit's utilization over all of them, the rooflines a stage's.
  for (auto& [unit, u] : s.utilization)
    u *= s.cycles ? static_cast<double>(serial) / (static_cast<double>(s.cycles) * static_cast<double>(run.stages)) : 0;
  s.roofline_compute_cycles = ceil_div(s.roofline_compute_cycles, run.stages);
  s.roofline_memory_cycles = ceil_div(s.roofline_memory_cycles, run.stages);
  return s;
}

}  // namespace

Outcome evaluate(const SweepPoint& point, const std::string& exe, SpecCache& specs) {
  Outcome out;
  std::vector<std::pair<std::string, Stats>> parts;             // each run `count` times
  std::vector<std::tuple<std::string, Stats, int64_t>> layers;  // each run once, and its count
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
      const Stats one = evaluate_part(part, point.fidelity, exe, specs, out);
      if (out.status != PointStatus::ok) return out;
      parts.emplace_back(part.name, repeated(one, count));
      if (point.pipeline) layers.emplace_back(part.name, one, count);  // a stage holds a share of the layers
      const Stats& all = parts.back().second;
      out.parts.push_back({part.name, all.cycles, all.latency_s, all.energy_pJ});
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
  if (point.pipeline) {
    try {
      PipelineRun run;
      out.stats = pipelined(point, layers, specs, run);
      out.pipeline = run;
    } catch (const UserError& e) {
      out.status = PointStatus::error;
      out.reason = e.what();
      return out;
    }
  } else {
    out.stats = add_parts(parts);
  }
  if (out.stats.status.ok && point.fit.empty()) check_capacity(point, parts, specs, out.stats);
  if (!point.fit.empty()) {  // also where one part alone is too large: what would fit is the point of `fit:`
    try {
      const Residency residency(point, out.mapped, specs, out.pipeline ? &*out.pipeline : nullptr);
      if (const std::string why = residency.overflow(); out.stats.status.ok && !why.empty())
        out.stats.status = EvalStatus{false, why};
      out.fit = residency.largest();
    } catch (const UserError& e) {
      out.status = PointStatus::error;
      out.reason = e.what();
      return out;
    }
  }
  if (!out.stats.status.ok) {
    out.status = PointStatus::infeasible;
    out.reason = out.stats.status.reason;
  }
  return out;
}

}  // namespace einsim
