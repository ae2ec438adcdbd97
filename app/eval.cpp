// einsim eval: a cascade run in the reference interpreter on seeded or given inputs.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include <filesystem>

#include "workloads/interpreter.hpp"
#include "workloads/npy.hpp"

namespace einsim::app {

using Json = nlohmann::ordered_json;

int run_eval(const EvalArgs& args) {
  WorkloadOverrides overrides = args.workload.overrides();
  // With --compare, one command line feeds two workloads: a --set applies to those that have the param.
  overrides.skip_unknown = !args.compare.empty() || args.compare_reference;
  const Cascade c = load_cascade(args.workload.file, overrides);
  check_ops(c, args.max_ops);
  TensorValues inputs = random_inputs(c, args.seed);
  if (!args.inputs_dir.empty()) {
    for (const Tensor& t : c.tensors) {
      if (!t.is_input()) continue;
      const std::string file = (std::filesystem::path(args.inputs_dir) / (t.name + ".npy")).string();
      NpyArray a = read_npy(file);
      if (a.shape != shape_of(t))
        throw UserError(SourceLoc{file}, "",
                        fmt::format("input '{}' has shape ({}) but the workload needs ({})", t.name,
                                    fmt::join(a.shape, ", "), fmt::join(shape_of(t), ", ")));
      inputs[t.name] = std::move(a.values);
    }
  }
  EvalOptions options;
  options.fp64 = args.accum == "fp64";
  options.ideal = args.ideal;
  const TensorValues values = evaluate(c, inputs, options);

  Json j;
  j["name"] = c.name;
  j["seed"] = args.seed;
  j["accum"] = args.accum;
  j["ideal"] = args.ideal;
  Json outputs = Json::object();
  std::vector<std::vector<std::string>> rows{{"output", "shape", "min", "max", "mean"}};
  for (const Tensor& t : c.tensors) {
    if (!t.output) continue;
    const std::vector<double>& v = values.at(t.name);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    const double mean = v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    outputs[t.name] = Json{{"shape", shape_of(t)}, {"min", lo}, {"max", hi}, {"mean", mean}};
    rows.push_back(
        {t.name, shape_text(t), fmt::format("{:.6g}", lo), fmt::format("{:.6g}", hi), fmt::format("{:.6g}", mean)});
    if (!args.out_dir.empty()) {
      std::filesystem::create_directories(args.out_dir);
      write_npy((std::filesystem::path(args.out_dir) / (t.name + ".npy")).string(), shape_of(t), v, options.fp64);
    }
  }
  j["outputs"] = outputs;
  std::string text = fmt::format("{}: evaluated with seed {}, {} arithmetic{}\n", c.name, args.seed, args.accum,
                                 args.ideal ? ", ideal storage" : "");
  text += table(rows);

  // Guards: the density the model charges beside the one these values have, so a run can set it from them.
  Json guards = Json::object();
  rows = {{"guard", "density (charged)", "measured", "set by"}};
  for (const Einsum& e : c.einsums) {
    if (e.guard < 0) continue;
    const Tensor& g = c.tensors[e.reads[static_cast<size_t>(e.guard)].tensor];
    if (guards.contains(g.name)) continue;
    const std::vector<double>& v = values.at(g.name);
    const auto nonzero = std::count_if(v.begin(), v.end(), [](double x) { return x != 0; });
    const double measured = v.empty() ? 0.0 : static_cast<double>(nonzero) / static_cast<double>(v.size());
    guards[g.name] = Json{{"density", *g.density}, {"measured", measured}, {"param", g.density_param}};
    rows.push_back({g.name, fmt::format("{:.6g}", *g.density), fmt::format("{:.6g}", measured),
                    g.density_param.empty() ? "its entry" : "--set workload." + g.density_param + "=..."});
  }
  if (!guards.empty()) {
    j["guards"] = guards;
    text += "guards (the fraction of elements that are non-zero):\n" + table(rows);
  }
  // --densities: the measured densities as the params that set them, so `model` and `sim` charge these values'.
  if (!args.densities.empty()) {
    std::vector<std::string> params;
    for (const auto& [name, g] : guards.items())
      if (!g["param"].get<std::string>().empty())
        params.push_back(fmt::format("{}: {}", g["param"].get<std::string>(), g["measured"].get<double>()));
    if (params.empty())
      throw UserError(SourceLoc{}, "--densities",
                      fmt::format("{} has no guard whose density a param sets: nothing to write", c.file));
    std::ofstream out(args.densities);
    out << fmt::format("# The guards' densities {} measured (seed {}, {} arithmetic): `--params {}`\n", c.file,
                       args.seed, args.accum, args.densities)
        << fmt::format("params: {{{}}}\n", fmt::join(params, ", "));
    if (!out.flush()) throw UserError(SourceLoc{args.densities}, "--densities", "cannot write the file");
    text += fmt::format("wrote {}\n", args.densities);
  }

  // --compare-reference: the workload's `reference:` is the oracle.
  const std::string compare_file = args.compare_reference ? c.reference : args.compare;
  if (args.compare_reference || !compare_file.empty()) {
    const Cascade other = args.compare_reference ? load_reference(c, overrides) : load_cascade(compare_file, overrides);
    check_ops(other, args.max_ops);
    for (const auto& [name, value] : overrides.params) {
      const Param* here = c.param(name);
      const Param* there = other.param(name);
      if ((!here || here->inferred) && (!there || there->inferred))
        throw UserError(SourceLoc{}, "--set workload." + name,
                        fmt::format("neither {} nor {} has a param '{}'", c.file, other.file, name));
    }
    TensorValues other_inputs;
    for (const Tensor& t : other.tensors) {
      if (!t.is_input()) continue;
      auto it = inputs.find(t.name);
      if (it != inputs.end() && c.tensor_id(t.name).valid() && shape_of(c.tensor(t.name)) != shape_of(t))
        throw UserError(SourceLoc{compare_file}, "tensors." + t.name,
                        fmt::format("input '{}' has shape {} here but {} in {}", t.name, shape_text(t),
                                    shape_text(c.tensor(t.name)), c.file));
      other_inputs[t.name] = it != inputs.end() ? it->second : random_values(t.name, t.elements(), args.seed);
    }
    const TensorValues other_values = evaluate(other, other_inputs, options);
    Json compare = Json::object();
    rows = {{"output", "max_abs_err", "max_rel_err", "mean_rel_err", "snr_db"}};
    for (const Tensor& t : c.tensors) {
      const TensorId o = other.tensor_id(t.name);
      if (!t.output || !o.valid() || !other.tensors[o].output) continue;
      if (shape_of(t) != shape_of(other.tensors[o]))
        throw UserError(SourceLoc{compare_file}, "tensors." + t.name,
                        fmt::format("output '{}' has another shape than in {}", t.name, c.file));
      // The oracle: the reference workload with --compare-reference, else this one.
      const ErrorStats s = args.compare_reference ? compare_values(values.at(t.name), other_values.at(t.name))
                                                  : compare_values(other_values.at(t.name), values.at(t.name));
      compare[t.name] = Json{{"max_abs_err", s.max_abs_err},
                             {"max_rel_err", s.max_rel_err},
                             {"mean_rel_err", s.mean_rel_err},
                             {"snr_db", s.snr_db}};
      rows.push_back({t.name, fmt::format("{:.3e}", s.max_abs_err), fmt::format("{:.3e}", s.max_rel_err),
                      fmt::format("{:.3e}", s.mean_rel_err), fmt::format("{:.1f}", s.snr_db)});
    }
    if (compare.empty())
      throw UserError(SourceLoc{compare_file}, "", fmt::format("shares no output tensor with {}", c.file));
    j[args.compare_reference ? "reference" : "compare"] = compare;
    text += fmt::format("{} {} ({}), same inputs:\n",
                        args.compare_reference ? "against its reference" : "compared with", other.name, compare_file) +
            table(rows);
  }
  if (args.workload.json)
    std::cout << j.dump(2) << '\n';
  else
    std::cout << text;
  return 0;
}

}  // namespace einsim::app
