// einsim validate: a cascade's values against the reference kernels.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "app/options.hpp"
#include "app/text.hpp"
#include "workloads/validate.hpp"

namespace einsim::app {

using Json = nlohmann::ordered_json;

int run_validate(const ValidateArgs& args) {
  const Cascade c = load_cascade(args.workload.file, args.workload.overrides());
  ValidateOptions o;
  o.backend = args.backend;
  o.seed = args.seed;
  o.max_interpreter_ops = args.max_interpreter_ops;
  o.sample_rows = args.sample_rows;
  o.max_ops = args.max_ops;
  const ValidateReport r = validate(c, o);
  if (args.workload.json) {
    Json j;
    j["workload"] = r.workload;
    j["kernel"] = r.kernel;
    j["backend"] = r.backend;
    if (!r.device.empty()) j["device"] = r.device;
    j["seed"] = args.seed;
    j["output"] = r.output;
    j["interpreter"] = r.interpreter;
    j["checks"] = Json::array();
    for (const ValidateCheck& ch : r.checks)
      j["checks"].push_back(Json{{"kernel", ch.kernel},
                                 {"against", ch.against},
                                 {"compared", ch.compared},
                                 {"max_abs_err", ch.max_abs_err},
                                 {"norm_rel_err", ch.norm_rel_err},
                                 {"tolerance", ch.tolerance},
                                 {"ok", ch.ok()}});
    if (args.time)
      for (const auto& [stage, seconds] : r.seconds) j["seconds"][stage] = seconds;
    j["ok"] = r.ok();
    std::cout << j.dump(2) << '\n';
  } else {
    std::string out = fmt::format("{}: output {} against kernel '{}' on {}{}, seed {}\n", r.workload, r.output,
                                  r.kernel, r.backend, r.device.empty() ? "" : " (" + r.device + ")", args.seed);
    if (r.interpreter != "run") out += "  interpreter " + r.interpreter + "\n";
    std::vector<std::vector<std::string>> rows{
        {"kernel", "against", "values", "max_abs_err", "norm_rel_err", "tolerance", ""}};
    for (const ValidateCheck& ch : r.checks)
      rows.push_back({ch.kernel, ch.against, fmt::format("{}", ch.compared), fmt::format("{:.3g}", ch.max_abs_err),
                      fmt::format("{:.3g}", ch.norm_rel_err), fmt::format("{:.3g}", ch.tolerance),
                      ch.ok() ? "ok" : "EXCEEDED"});
    out += table(rows);
    if (args.time)
      for (const auto& [stage, seconds] : r.seconds) out += fmt::format("  {}: {:.3f} s\n", stage, seconds);
    std::cout << out;
  }
  return r.ok() ? 0 : 1;
}

}  // namespace einsim::app
