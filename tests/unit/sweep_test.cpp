#include <gtest/gtest.h>

#include <set>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sqlite3.h>

#include "common/units.hpp"
#include "sim/analytical.hpp"
#include "explore/mapper.hpp"
#include "explore/results.hpp"
#include "mappings/lower.hpp"
#include "explore/sweep.hpp"
#include "mappings/spec_cache.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

namespace fs = std::filesystem;

const std::string kSweep = "tests/data/sweep/gemm.yaml";

// A result row's cell in column `c`, or null when the row has no such column.
const Cell* find_cell(const Row& r, const std::string& c) {
  for (const auto& [name, v] : r)
    if (name == c) return &v;
  return nullptr;
}

// A result row's cell in column `c`, which it has.
const Cell& cell(const Row& r, const std::string& c) {
  if (const Cell* v = find_cell(r, c)) return *v;
  throw std::runtime_error("no column " + c);
}

std::string fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("einsim-sweep-" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  return d.string();
}

SweepSummary run(const SweepSpec& spec, const std::string& dir, int jobs = 2, int shard = 1, int shards = 1,
                 bool resume = false) {
  SweepOptions o;
  o.out_dir = dir;
  o.jobs = jobs;
  o.shard = shard;
  o.shards = shards;
  o.resume = resume;
  o.version = "test";
  return run_sweep(spec, o);
}

// The CSV without its wall_s column (the one column that differs from run to run).
std::string csv_without_wall_time(const std::string& dir) {
  std::ifstream in(fs::path(dir) / "results.csv");
  std::string line, out;
  int wall = -1;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    if (wall < 0) wall = static_cast<int>(std::find(cells.begin(), cells.end(), "wall_s") - cells.begin());
    for (size_t i = 0; i < cells.size(); ++i)
      if (static_cast<int>(i) != wall) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

// A sweep file (`text`) written to a fresh folder and run into its out/ on `jobs` threads, its cycle-level points
// by this binary's einsim: what the mapped-part tests share.
struct SweepRun {
  fs::path dir;
  SweepSpec spec;
  SweepOptions options;
  SweepSummary summary;
  std::vector<Row> rows;
};
SweepRun run_sweep_file(const std::string& name, const std::string& text, int jobs = 1) {
  SweepRun r;
  r.dir = fresh_dir(name);
  fs::create_directories(r.dir);
  std::ofstream(r.dir / "s.yaml") << text;
  r.options.out_dir = (r.dir / "out").string();
  r.options.version = "test";
  r.options.self_exe = (fs::canonical("/proc/self/exe").parent_path() / "einsim").string();
  r.options.jobs = jobs;
  r.spec = load_sweep((r.dir / "s.yaml").string());
  r.summary = run_sweep(r.spec, r.options);
  r.rows = ResultsDb((fs::path(r.options.out_dir) / "results.sqlite").string()).all();
  return r;
}

// A sweep of BERT attention (one sequence, bf16) over `seqs`, its part mapped from configs/constraints/NAME.yaml.
std::string mapped_attention_sweep(const std::string& name, const std::string& seqs) {
  const std::string root = fs::absolute(".").string();
  return "version: 1\nname: m\nfidelity: both\naxes: {seq: " + seqs + "}\nparts:\n  attention:\n    mapping: auto\n" +
         "    constraints: " + root + "/configs/constraints/" + name + ".yaml\n    params: " + root +
         "/configs/workloads/models/bert.yaml\n    set: {B: 1, M: \"{seq}\", P: \"{seq}\", dtype: bf16}\n";
}

TEST(Sweep, PointsComeInAFixedOrderWithZippedAxesTogether) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::vector<SweepPoint> points = enumerate_points(spec);
  ASSERT_EQ(points.size(), 3u * 2 * 2);  // (dataflow, label) zipped x K x extra
  EXPECT_EQ(points[0].axes, (std::vector<std::pair<std::string, std::string>>{
                                {"dataflow", "ws"}, {"label", "weight"}, {"K", "64"}, {"extra", "none"}}));
  EXPECT_EQ(points[1].axes[3].second, "twice");  // the last axis varies fastest
  EXPECT_EQ(points[2].axes[2].second, "128");
  EXPECT_EQ(points[4].axes[0].second, "os");
  EXPECT_EQ(points[4].axes[1].second, "output");
  for (size_t i = 0; i < points.size(); ++i) {
    EXPECT_EQ(points[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(points[i].parts.size(), points[i].axes[3].second == "twice" ? 2u : 1u);
    EXPECT_EQ(points[i].parts[0].mapping, "configs/mappings/gemm-systolic-" + points[i].axes[0].second + ".yaml");
    EXPECT_EQ(points[i].parts[0].sets[2], (std::pair<std::string, std::string>{"K", points[i].axes[2].second}));
  }
}

TEST(Sweep, PartsAddUp) {
  const std::string dir = fresh_dir("parts");
  ASSERT_EQ(run(load_sweep(kSweep), dir).failed, 0);
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  const std::vector<Row> rows = db.all();
  ASSERT_EQ(rows.size(), 12u);
  for (size_t i = 0; i < rows.size(); i += 2) {  // extra=none, then extra=twice of the same point
    EXPECT_EQ(std::get<std::string>(cell(rows[i], "status")), "ok");
    EXPECT_EQ(std::get<int64_t>(cell(rows[i + 1], "cycles")), 2 * std::get<int64_t>(cell(rows[i], "cycles")));
    EXPECT_EQ(std::get<int64_t>(cell(rows[i + 1], "traffic_dram_read")),
              2 * std::get<int64_t>(cell(rows[i], "traffic_dram_read")));
    EXPECT_DOUBLE_EQ(std::get<double>(cell(rows[i + 1], "energy_pJ")),
                     2 * std::get<double>(cell(rows[i], "energy_pJ")));
    EXPECT_DOUBLE_EQ(std::get<double>(cell(rows[i + 1], "utilization_array")),
                     std::get<double>(cell(rows[i], "utilization_array")));
    EXPECT_EQ(std::get<int64_t>(cell(rows[i + 1], "einsum_again_Z_cycles")),
              std::get<int64_t>(cell(rows[i], "einsum_Z_cycles")));
  }
}

TEST(Sweep, PartCountsScaleAndDerivedColumnsFollowTheirExpressions) {
  const std::string mapping = fs::absolute("configs/mappings/gemm-systolic-ws.yaml").string();
  const SweepSpec spec = load_sweep(test::temp_file("counts.yaml",
                                                    "version: 1\nname: c\nfidelity: analytical\naxes: {n: [0, 1, 3]}\n"
                                                    "parts:\n  once: {mapping: " +
                                                        mapping +
                                                        "}\n"
                                                        "  more: {mapping: " +
                                                        mapping +
                                                        ", count: \"{n}\"}\n"
                                                        "columns:\n  per_run_s: latency_s / (1 + n)\n"));
  const std::string dir = fresh_dir("counts");
  ASSERT_EQ(run(spec, dir).failed, 0);
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  const std::vector<Row> rows = db.all();
  ASSERT_EQ(rows.size(), 3u);
  const int64_t once = std::get<int64_t>(cell(rows[0], "cycles"));  // n = 0: the second part does not run
  EXPECT_EQ(std::get<int64_t>(cell(rows[1], "cycles")), 2 * once);
  EXPECT_EQ(std::get<int64_t>(cell(rows[2], "cycles")), 4 * once);
  for (const Row& r : rows)
    EXPECT_DOUBLE_EQ(std::get<double>(cell(r, "per_run_s")), std::get<double>(cell(rows[0], "latency_s")));
}

TEST(Sweep, APointWhoseResidentLayersExceedTheMemoryIsRefusedWithWhatItNeeds) {
  // configs/sweeps/serving-capacity.yaml: Mixtral's 32 layers on 80 GiB devices. Its weights (86.6 GiB) fit on no
  // single device; on two, 128 sequences of 4K fit and 512 do not; on four, 128 of 4K and 32 of 32K fit.
  const std::string dir = fresh_dir("capacity");
  ASSERT_EQ(run(load_sweep("configs/sweeps/serving-capacity.yaml"), dir).failed, 0);
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  std::set<std::string> fits;
  for (const Row& r : db.all()) {
    std::map<std::string, Cell> c(r.begin(), r.end());
    const std::string at = std::get<std::string>(c.at("devices")) + "/" + std::get<std::string>(c.at("batch")) + "/" +
                           std::get<std::string>(c.at("context"));
    if (std::get<std::string>(c.at("status")) == "ok")
      fits.insert(at);
    else
      EXPECT_NE(std::get<std::string>(c.at("reason")).find("more than its capacity of 80 GiB"), std::string::npos)
          << at << ": " << std::get<std::string>(c.at("reason"));
    if (at == "2/512/4096") {
      EXPECT_EQ(std::get<std::string>(c.at("reason")),
                "the point keeps 172.41 GiB in 'dram' on each device (attention 32 x 4.06 GiB, moe 32 x 1.32 GiB), "
                "more than its capacity of 80 GiB");
    }
  }
  EXPECT_EQ(fits, (std::set<std::string>{"2/32/4096", "2/128/4096", "4/32/4096", "4/32/32768", "4/128/4096"}));
}

// `fit: batch` (configs/sweeps/serving-capacity.yaml): each row says the largest batch that fits at its devices and
// context, a multiple of 4 (the experts' 8 must share T x 2 tokens evenly). Checked against the sweep itself: at
// that batch the point fits, and 4 sequences more it is refused for capacity.
TEST(Sweep, FitIsTheLargestBatchThatFits) {
  const SweepSpec spec = load_sweep("configs/sweeps/serving-capacity.yaml");
  ASSERT_TRUE(spec.fit);
  const std::string dir = fresh_dir("fit");
  ASSERT_EQ(run(spec, dir).failed, 0);
  std::map<std::string, int64_t> fit;  // devices/context -> the largest batch
  for (const Row& r : ResultsDb((fs::path(dir) / "results.sqlite").string()).all()) {
    const std::string at = std::get<std::string>(cell(r, "devices")) + "/" + std::get<std::string>(cell(r, "context"));
    const int64_t f = std::get<int64_t>(cell(r, "fit_batch"));
    EXPECT_EQ(fit.emplace(at, f).first->second, f) << at << ": the same whatever the point's own batch";
    EXPECT_EQ(std::get<std::string>(cell(r, "status")) == "ok",
              std::stoll(std::get<std::string>(cell(r, "batch"))) <= f)
        << at;
  }
  EXPECT_EQ(fit,
            (std::map<std::string, int64_t>{
                {"1/4096", 0}, {"1/32768", 0}, {"2/4096", 144}, {"2/32768", 16}, {"4/4096", 460}, {"4/32768", 56}}));
  for (const auto& [at, f] : fit) {
    if (f == 0) continue;
    SweepSpec s = spec;
    s.fit.reset();
    for (SweepAxis& a : s.axes) {
      const std::string devices = at.substr(0, at.find('/')), context = at.substr(at.find('/') + 1);
      if (a.name == "devices") a.values = {devices};
      if (a.name == "context") a.values = {context};
      if (a.name == "batch") a.values = {std::to_string(f), std::to_string(f + 4)};
      a.vars.assign(a.values.size(), {});
    }
    const std::string d = fresh_dir("fit-" + std::to_string(f));
    ASSERT_EQ(run(s, d).failed, 0);
    const std::vector<Row> rows = ResultsDb((fs::path(d) / "results.sqlite").string()).all();
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(std::get<std::string>(cell(rows[0], "status")), "ok") << at;
    EXPECT_EQ(std::get<std::string>(cell(rows[1], "status")), "infeasible") << at;
    EXPECT_NE(std::get<std::string>(cell(rows[1], "reason")).find("more than its capacity"), std::string::npos) << at;
  }
}

TEST(Sweep, DuplexStudyRunsEveryPointWithItsPerTokenColumns) {
  const std::string dir = fresh_dir("duplex");
  ASSERT_EQ(run(load_sweep("configs/sweeps/duplex.yaml"), dir).failed, 0);
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  const std::vector<Row> rows = db.all();
  ASSERT_EQ(rows.size(), 2u * 3 * 3 * 3 * 3 * 3);  // batching x system x model x batch x lin x lout
  auto text = [&](const Row& r, const std::string& c) { return std::get<std::string>(cell(r, c)); };
  auto real = [&](const Row& r, const std::string& c) { return std::get<double>(cell(r, c)); };
  const size_t half = rows.size() / 2;  // batching is the first axis: continuous, then decode_only
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    ASSERT_EQ(text(r, "status"), "ok") << text(r, "reason");
    const double batch = std::stod(text(r, "batch")), lout = std::stod(text(r, "lout"));
    const double latency = real(r, "latency_s");
    EXPECT_DOUBLE_EQ(real(r, "time_per_token_s"), latency / lout);
    EXPECT_DOUBLE_EQ(real(r, "tokens_per_s"), batch * lout / latency);
    EXPECT_DOUBLE_EQ(real(r, "energy_per_token_J"), real(r, "energy_pJ") * 1e-12 / (batch * lout));
    // Continuous batching prefills each prompt inside a step: the mixed parts run, and the same requests take
    // longer than their decode steps alone.
    const bool continuous = text(r, "batching") == "continuous";
    EXPECT_EQ(continuous, i < half);
    const Cell* prefill = find_cell(r, "einsum_mixed_attention_QKP_cycles");
    EXPECT_EQ(prefill && std::holds_alternative<int64_t>(*prefill) && std::get<int64_t>(*prefill) > 0, continuous);
    if (continuous) {
      EXPECT_EQ(text(rows[i + half], "system"), text(r, "system"));
      EXPECT_GT(latency, real(rows[i + half], "latency_s"));
    }
  }
}

TEST(Sweep, PlacementColumnsSayWhereEachAutoGroupRanAndWhy) {
  // Named like every column (tensor+cuda -> tensor_cuda), in the Stats' (sorted) order.
  Stats s;
  s.placements["moe.other-experts"] = PlacementStats{"pim", 16, {{"pim", {8, 2e-6}}, {"tensor+cuda", {295, 5e-6}}}};
  Row place;
  for (const auto& c : flatten(s))
    if (c.first.rfind("place_", 0) == 0) place.push_back(c);
  EXPECT_EQ(place, (Row{{"place_moe_other_experts", std::string("pim")},
                        {"place_moe_other_experts_op_per_byte", 16.0},
                        {"place_moe_other_experts_pim_ridge_op_per_byte", 8.0},
                        {"place_moe_other_experts_pim_roofline_s", 2e-6},
                        {"place_moe_other_experts_tensor_cuda_ridge_op_per_byte", 295.0},
                        {"place_moe_other_experts_tensor_cuda_roofline_s", 5e-6}}));

  // A sweep of two parts keeps every part's groups, named part.group; the same columns whatever -j.
  const SweepSpec spec = load_sweep("tests/data/sweep/pim-placement.yaml");
  const std::string dir = fresh_dir("placement"), one = fresh_dir("placement-j1");
  ASSERT_EQ(run(spec, dir).failed, 0);
  run(spec, one, 1);
  EXPECT_EQ(csv_without_wall_time(dir), csv_without_wall_time(one));
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  const std::vector<Row> rows = db.all();
  ASSERT_EQ(rows.size(), 3u * 2 * 2);  // system x batch x L
  auto cell_or_empty = [](const Row& r, const std::string& c) -> const Cell& {
    static const Cell empty;  // all() leaves out a row's NULLs
    const Cell* v = find_cell(r, c);
    return v ? *v : empty;
  };
  ASSERT_TRUE(db.has_column("place_moe_other_experts_pim_roofline_s"));
  for (const Row& r : rows) {
    const std::string system = std::get<std::string>(cell_or_empty(r, "system"));
    const bool logic_32 = system == "logic_pim" && std::get<std::string>(cell_or_empty(r, "batch")) == "32";
    // Decode attention (Op/B 4) runs on either PIM.
    EXPECT_EQ(std::get<std::string>(cell_or_empty(r, "place_attention_attention")), system == "xpu" ? "cuda" : "pim")
        << system;
    // Logic-PIM has 4x the xPU's bandwidth at a ridge of 8, so it wins below Op/B 32: the projections of 32
    // tokens (Op/B 30) and the experts of 8 tokens each (Op/B 8), not those of 128 (about 100 and 32).
    EXPECT_EQ(std::get<std::string>(cell_or_empty(r, "place_attention_q_projection")), logic_32 ? "pim" : "tensor")
        << system;
    EXPECT_EQ(std::get<std::string>(cell_or_empty(r, "place_moe_other_experts")), logic_32 ? "pim" : "tensor+cuda")
        << system;
    // The xPU alone has no PIM candidate: its columns are empty there.
    EXPECT_EQ(std::holds_alternative<std::monostate>(cell_or_empty(r, "place_moe_other_experts_pim_roofline_s")),
              system == "xpu")
        << system;
  }

  // The columns hold the Stats of the point evaluated on its own: Logic-PIM, batch 32, L 4,096.
  const Row& r = rows[2 * 4 + 1];
  ASSERT_EQ(std::get<std::string>(cell_or_empty(r, "system")), "logic_pim");
  ASSERT_EQ(std::get<std::string>(cell_or_empty(r, "L")), "4096");
  const DesignPoint p =
      test::point("configs/mappings/llm/decode-attention.yaml", {{"B", "32"}, {"L", "4096"}},
                  {"configs/workloads/models/mixtral-8x7b.yaml"}, {}, "configs/arch/xpu-h100-logic-pim.yaml");
  const PlacementStats& attention = evaluate_analytical(p.cascade, p.arch, p.program).placements.at("attention");
  EXPECT_EQ(std::get<double>(cell_or_empty(r, "place_attention_attention_op_per_byte")), attention.op_per_byte);
  EXPECT_EQ(std::get<double>(cell_or_empty(r, "place_attention_attention_pim_ridge_op_per_byte")),
            attention.options.at("pim").ridge_op_per_byte);
  EXPECT_EQ(std::get<double>(cell_or_empty(r, "place_attention_attention_pim_roofline_s")),
            attention.options.at("pim").roofline_s);
  EXPECT_EQ(std::get<double>(cell_or_empty(r, "place_attention_attention_cuda_roofline_s")),
            attention.options.at("cuda").roofline_s);
  EXPECT_LT(attention.options.at("pim").roofline_s, attention.options.at("cuda").roofline_s);
}

TEST(Sweep, ResultsDoNotDependOnParallelism) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::string one = fresh_dir("j1"), two = fresh_dir("j2");
  run(spec, one, 1);
  run(spec, two, 2);
  EXPECT_EQ(csv_without_wall_time(one), csv_without_wall_time(two));
}

TEST(Sweep, ResumeRunsOnlyTheMissingPoints) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::string full = fresh_dir("full"), cut = fresh_dir("cut");
  run(spec, full);
  run(spec, cut);
  EXPECT_THROW(run(spec, cut), UserError);  // results there: --resume or another directory
  {
    sqlite3* db = nullptr;
    sqlite3_open((fs::path(cut) / "results.sqlite").c_str(), &db);
    sqlite3_exec(db, "DELETE FROM results WHERE point IN (3, 7, 8)", nullptr, nullptr, nullptr);  // as if killed
    sqlite3_close(db);
  }
  const SweepSummary s = run(spec, cut, 2, 1, 1, true);
  EXPECT_EQ(s.ran, 3);
  EXPECT_EQ(s.skipped, 9);
  EXPECT_EQ(csv_without_wall_time(cut), csv_without_wall_time(full));
  EXPECT_EQ(run(spec, cut, 2, 1, 1, true).ran, 0);
  // Another sweep, or this one with another axis value, does not resume into these rows.
  SweepSpec other = spec;
  other.axes[2].values.back() = "256";  // K: 64, 256
  try {
    run(other, cut, 2, 1, 1, true);
    ADD_FAILURE() << "resumed another sweep's results";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("holds the results of another sweep"), std::string::npos) << e.what();
  }
  other = spec;
  other.name += "-renamed";
  EXPECT_THROW(run(other, cut, 2, 1, 1, true), UserError);
}

TEST(Sweep, ShardsMergeIntoTheWholeSweep) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::string full = fresh_dir("whole"), a = fresh_dir("shard1"), b = fresh_dir("shard2"),
                    c = fresh_dir("shard3"), merged = fresh_dir("merged");
  run(spec, full);
  EXPECT_EQ(run(spec, a, 1, 1, 3).points, 4);
  EXPECT_EQ(run(spec, b, 1, 2, 3).points, 4);
  EXPECT_EQ(run(spec, c, 1, 3, 3).points, 4);
  merge_results({c, a, b, a}, merged);  // any order; a point in two shards counts once
  EXPECT_EQ(csv_without_wall_time(merged), csv_without_wall_time(full));
}

TEST(Sweep, ACrashingWorkerCostsItsPointOnly) {
  SweepSpec spec = load_sweep(kSweep);
  spec.fidelities = {Fidelity::analytical, Fidelity::cycle};
  const std::string dir = fresh_dir("crash");
  SweepOptions o;
  o.out_dir = dir;
  o.jobs = 2;
  o.version = "test";
  o.self_exe = fs::absolute("tests/data/sweep/crashing-worker.sh").string();
  const SweepSummary s = run_sweep(spec, o);
  EXPECT_EQ(s.ran, 24);
  EXPECT_EQ(s.failed, 12);  // every cycle-level point, and nothing else
  ResultsDb db((fs::path(dir) / "results.sqlite").string());
  for (const Row& r : db.all()) {
    const bool cycle = std::get<std::string>(r[1].second) == "cycle";
    for (const auto& [name, v] : r) {
      if (name == "status") {
        EXPECT_EQ(std::get<std::string>(v), cycle ? "error" : "ok");
      }
      if (name == "reason" && cycle) {
        EXPECT_EQ(std::get<std::string>(v), "gemm: the cycle-level worker died of signal 11");
      }
    }
  }
}

TEST(Sweep, ACycleLevelWorkerGetsItsDesignPointAsJsonAndItsErrorsAreThePoints) {
  SpecInputs in;
  in.mapping = "m.yaml";
  in.workload_overrides.param_files = {"bert.yaml"};
  in.workload_overrides.params = {{"M", "4096"}};
  in.arch_sets = {{"glb.size", "32 MiB"}};
  const SpecInputs back = spec_inputs_from_json(nlohmann::ordered_json::parse(to_json(in).dump()));
  EXPECT_EQ(to_json(back), to_json(in));
  EXPECT_EQ(back.arch_sets, in.arch_sets);
  EXPECT_THROW(spec_inputs_from_json(nlohmann::ordered_json{{"mapping", 3}}), UserError);

  // A real worker (einsim beside this test) on points whose arrays have 0 rows: each is its point's error.
  const fs::path einsim = fs::canonical("/proc/self/exe").parent_path() / "einsim";
  const fs::path file = fs::path(fresh_dir("worker-errors")) / "s.yaml";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "version: 1\nname: w\nfidelity: cycle\naxes: {rows: [0, 4]}\nparts:\n  gemm:\n    mapping: "
                      << fs::absolute("configs/mappings/gemm-systolic-ws.yaml").string()
                      << "\n    set: {M: 32, N: 32, K: 32, arch.array.rows: \"{rows}\"}\n";
  SweepOptions o;
  o.out_dir = (file.parent_path() / "out").string();
  o.version = "test";
  o.self_exe = einsim.string();
  const SweepSummary summary = run_sweep(load_sweep(file.string()), o);
  EXPECT_EQ(summary.ran, 2);
  EXPECT_EQ(summary.failed, 1);
  ResultsDb db((fs::path(o.out_dir) / "results.sqlite").string());
  for (const Row& r : db.all())
    for (const auto& [name, v] : r) {
      if (name == "reason" && std::get<int64_t>(r[0].second) == 0) {
        EXPECT_NE(std::get<std::string>(v).find("gemm: "), std::string::npos);
        EXPECT_NE(std::get<std::string>(v).find("rows must be between 1 and 2^40, got 0"), std::string::npos)
            << std::get<std::string>(v);
      }
    }
}

// Workers started at once by several threads must not inherit each other's pipes: one holding another's input
// open kept it waiting for the end of its input, and two such workers waited on each other (a hang, once in about
// five runs of the quick FuseMax study at -j 8).
TEST(Sweep, ManyWorkersAtOnceDoNotWaitOnEachOther) {
  SweepSpec spec = load_sweep(kSweep);
  spec.fidelities = {Fidelity::cycle};
  for (int run = 0; run < 3; ++run) {
    SweepOptions o;
    o.out_dir = fresh_dir("many-workers-" + std::to_string(run));
    o.jobs = 8;
    o.version = "test";
    o.self_exe = (fs::canonical("/proc/self/exe").parent_path() / "einsim").string();
    const SweepSummary s = run_sweep(spec, o);
    EXPECT_EQ(s.ran, 12);
    EXPECT_EQ(s.failed, 0);
  }
}

TEST(Sweep, BadSweepFilesSayWhere) {
  auto error = [](const std::string& text) {
    try {
      load_sweep(test::temp_file("sweep.yaml", text));
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string head = "version: 1\nname: s\nfidelity: analytical\naxes: {seq: [1, 2]}\n";
  EXPECT_NE(error(head + "parts:\n  a:\n    mapping: m-{sq}.yaml\n")
                .find("sweep.yaml:7:14: error: parts.a.mapping: '{sq}' is neither an axis nor a variable of one"),
            std::string::npos)
      << error(head + "parts:\n  a:\n    mapping: m-{sq}.yaml\n");
  EXPECT_NE(error(head + "parts: {a: {mapping: m.yaml, when: {seq: 3}}}\n").find("'3' is not a value of axis 'seq'"),
            std::string::npos);
  EXPECT_NE(error(head + "parts: {a: {mapping: m.yaml, sets: {}}}\n").find("unknown key"), std::string::npos);
  EXPECT_NE(error(head + "parts: {a: {mapping: m.yaml}}\ncompare: [{name: c, axis: sq, baseline: 1}]\n")
                .find("no axis named 'sq'"),
            std::string::npos);
  // Result columns are named after parts, SQLite's column names ignore case, and a column name holds letters,
  // digits and '_' only.
  EXPECT_NE(error(head + "parts: {attention: {mapping: m.yaml}, Attention: {mapping: m.yaml}}\n")
                .find("part 'Attention' and part 'attention' give the same result columns"),
            std::string::npos);
  EXPECT_NE(error(head + "parts: {att-x: {mapping: m.yaml}, att_x: {mapping: m.yaml}}\n")
                .find("part 'att_x' and part 'att-x' give the same result columns"),
            std::string::npos);
  // A repeated axis value would only repeat its points.
  EXPECT_NE(error("version: 1\nname: s\nfidelity: analytical\naxes: {seq: [1, 2, 1]}\nparts: {a: {mapping: m.yaml}}\n")
                .find("axis 'seq' has the value '1' twice"),
            std::string::npos);
}

// Editing any file a point reads runs it again on --resume, whether the sweep names it or not: the arch a
// mapping names, its energy table, the DRAM preset it names.
TEST(Sweep, ResumeRerunsThePointsWhoseFilesChanged) {
  const fs::path root = fresh_dir("hashed-files");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"configs/mappings/gemm-systolic-ws.yaml", "mappings/gemm.yaml"},
           {"configs/arch/systolic.yaml", "arch/systolic.yaml"},
           {"configs/workloads/gemm.yaml", "workloads/gemm.yaml"},
           {"configs/energy/accelergy-45nm.yaml", "energy/accelergy-45nm.yaml"},
           {"configs/dram/hbm3-5.2.yaml", "dram/hbm3-5.2.yaml"}}) {
    fs::create_directories((root / to).parent_path());
    fs::copy_file(from, root / to);
  }
  fs::create_directories(root / "sweeps");
  std::ofstream(root / "sweeps/s.yaml")
      << "version: 1\nname: hashed\nfidelity: analytical\naxes: {K: [64, 128]}\n"
         "parts:\n  gemm:\n    mapping: ../mappings/gemm.yaml\n"
         "    set: {M: 64, N: 64, K: \"{K}\", arch.dram.model: bank, arch.dram.preset: hbm3-5.2}\n";
  const SweepSpec spec = load_sweep((root / "sweeps/s.yaml").string());
  const std::string dir = (root / "out").string();
  ASSERT_EQ(run(spec, dir).ran, 2);
  EXPECT_EQ(run(spec, dir, 2, 1, 1, true).skipped, 2);  // nothing changed
  for (const char* edited :
       {"arch/systolic.yaml", "energy/accelergy-45nm.yaml", "dram/hbm3-5.2.yaml", "workloads/gemm.yaml"}) {
    std::ofstream(root / edited, std::ios::app) << "# edited\n";
    const SweepSummary s = run(spec, dir, 2, 1, 1, true);
    EXPECT_EQ(s.ran, 2) << edited;
    EXPECT_EQ(s.skipped, 0) << edited;
  }
}

TEST(Sweep, ASecondSweepIntoTheSameDirectoryIsRefused) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::string dir = fresh_dir("locked");
  fs::create_directories(dir);
  {
    const DirectoryLock other(dir);  // as another einsim process writing there would hold it
    try {
      run(spec, dir);
      ADD_FAILURE() << "a sweep ran into a directory another one is writing";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("another einsim sweep or merge is writing into this directory"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(run(spec, dir).ran, 12);  // free again once the other has finished
}

// Columns a batch brings are added one by one (ALTER TABLE) to a table of many rows, and by copying the rows into a
// table made with all of them to one of few rows: both keep every row, value, index and trigger.
TEST(Sweep, NewColumnsKeepTheRowsIndexesAndTriggersOfTheTable) {
  for (const int before : {1, 200}) {  // rows in the table when three columns come: copied, then altered
    const std::string dir = fresh_dir("columns-" + std::to_string(before));
    fs::create_directories(dir);
    const std::string file = (fs::path(dir) / "results.sqlite").string();
    {
      ResultsDb db(file);
      for (int64_t i = 0; i < before; ++i) db.put({{"point", i}, {"fidelity", std::string("analytical")}, {"a", i}});
      db.flush();
    }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(raw,
                     "CREATE TABLE seen (n INTEGER); CREATE INDEX by_a ON results (a); CREATE TRIGGER count AFTER "
                     "INSERT ON results BEGIN INSERT INTO seen VALUES (NEW.point); END",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(raw);
    {
      ResultsDb db(file);
      db.put({{"point", int64_t{before}}, {"fidelity", std::string("analytical")}, {"b", 1.5}, {"c", 2.5}, {"d", 3.5}});
      db.flush();
      EXPECT_EQ(db.columns(), (std::vector<std::string>{"a", "b", "c", "d", "fidelity", "point"}));
      const std::vector<Row> rows = db.all();
      ASSERT_EQ(rows.size(), static_cast<size_t>(before + 1));
      EXPECT_EQ(rows[0], (Row{{"point", int64_t{0}}, {"fidelity", std::string("analytical")}, {"a", int64_t{0}}}));
      EXPECT_EQ(rows.back(), (Row{{"point", int64_t{before}},
                                  {"fidelity", std::string("analytical")},
                                  {"b", 1.5},
                                  {"c", 2.5},
                                  {"d", 3.5}}));
    }
    ASSERT_EQ(sqlite3_open(file.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT (SELECT COUNT(*) FROM seen), (SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = "
                       "'results' AND type IN ('index', 'trigger'))",
                       -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(st, 0), 1) << before;  // the trigger fired for the new row
    EXPECT_EQ(sqlite3_column_int(st, 1), 3) << before;  // the primary key's index, by_a and count
    sqlite3_finalize(st);
    sqlite3_close(raw);
  }
}

TEST(Sweep, AFailingDatabaseEndsTheSweepWithItsReasonAndKeepsCommittedRows) {
  const SweepSpec spec = load_sweep(kSweep);
  const std::string dir = fresh_dir("db-fails");
  ASSERT_EQ(run(spec, dir, 2, 1, 2).ran, 6);  // half of the points, committed
  const std::string file = (fs::path(dir) / "results.sqlite").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(
          db, "CREATE TRIGGER full BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
          nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  try {
    run(spec, dir, 2, 1, 1, true);  // the other half cannot be stored
    ADD_FAILURE() << "the sweep went on without its database";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("database or disk is full"), std::string::npos) << e.what();
  }
  ResultsDb after(file);
  ASSERT_EQ(after.rows(), 6);
  for (const Row& r : after.all())
    for (const auto& [name, v] : r) {
      if (name == "status") {
        EXPECT_EQ(std::get<std::string>(v), "ok");
      }
    }
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

TEST(Sweep, FuseMaxStudiesCoverThePapersPoints) {
  const SweepSpec full = load_sweep("configs/sweeps/fusemax.yaml");
  EXPECT_EQ(enumerate_points(full).size(), 5u * 4 * 6 * 2 * 2);  // config x model x seq x scope x fidelity
  EXPECT_EQ(full.published.size(), 8u);
  const SweepSpec quick = load_sweep("configs/sweeps/fusemax-quick.yaml");
  const std::vector<SweepPoint> points = enumerate_points(quick);
  EXPECT_EQ(points.size(), 5u * 5 * 2 * 2);
  for (const SweepPoint& p : points) {
    const bool end_to_end = p.axes[3].second == "end_to_end";
    ASSERT_EQ(p.parts.size(), end_to_end ? 2u : 1u);
    if (end_to_end) {  // the GEMMs run on the architecture of the configuration's attention mapping
      const std::string arch = p.axes[0].second == "cascade"        ? "flat"
                               : p.axes[0].second == "architecture" ? "fusemax"
                                                                    : p.axes[0].second;
      EXPECT_EQ(p.parts[1].arch, "configs/arch/" + arch + ".yaml");
    }
  }
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// A part may name constraints instead of a mapping: at every point the mapper chooses their `auto` tiles (for
// latency), and both fidelities evaluate that choice. Here the ws GEMM's constraints at two sizes: each point's
// analytical cycles equal `einsim map`'s best there, its cycle-level worker gets the same tiles, and a part
// cannot name both a mapping and constraints.
TEST(Sweep, APartWithConstraintsEvaluatesTheMappersChoiceAtBothFidelities) {
  const std::string constraints = fs::absolute("configs/constraints/gemm-systolic-ws.yaml").string();
  const SweepRun run = run_sweep_file("constraints",
                                      "version: 1\nname: c\nfidelity: both\naxes: {M: [64, 256]}\n"
                                      "parts:\n  gemm:\n    constraints: " +
                                          constraints + "\n    set: {M: \"{M}\", N: 128, K: 64}\n");
  EXPECT_EQ(run.summary.ran, 4);
  EXPECT_EQ(run.summary.failed, 0);
  const std::vector<Row>& rows = run.rows;
  ASSERT_EQ(rows.size(), 4u);
  const fs::path file = run.dir / "s.yaml";
  for (size_t i = 0; i < rows.size(); i += 2) {
    const std::string m = i == 0 ? "64" : "256";
    const MappingSpec templ = load_mapping(constraints);
    const Cascade cascade = test::load(templ.workload, {{"M", m}, {"N", "128"}, {"K", "64"}});
    const ArchSpec arch = load_arch(templ.arch);
    const MappingSpec best = with_choice(templ, best_choice(cascade, arch, templ));
    const Stats s = evaluate_analytical(cascade, arch, lower(cascade, arch, best));
    EXPECT_EQ(std::get<std::string>(cell(rows[i], "fidelity")), "analytical");
    EXPECT_EQ(std::get<int64_t>(cell(rows[i], "cycles")), s.cycles) << "M = " << m;
    // The worker simulated the same tiles: the same traffic, which the tiles decide.
    EXPECT_EQ(std::get<std::string>(cell(rows[i + 1], "fidelity")), "cycle");
    EXPECT_EQ(std::get<int64_t>(cell(rows[i + 1], "traffic_dram_read")), s.traffic_bytes.at("dram").read);
  }

  std::ofstream(file) << "version: 1\nname: c\nfidelity: analytical\naxes: {M: [64]}\nparts:\n  gemm:\n    mapping: "
                      << constraints << "\n    constraints: " << constraints << "\n";
  try {
    load_sweep(file.string());
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("parts.gemm.constraints"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a part names a mapping or constraints, not both"), std::string::npos)
        << e.what();
  }
}

// Constraints in a sweep may leave loop orders (`order: auto`) to the mapper, and with the part's `ragged: true`
// tiles that do not divide: both fidelities evaluate the mapper's choice (N = 1,000 columns, the mapper's blocks
// of rows and columns and their order). `ragged` is for a part's constraints only.
TEST(Sweep, APartsConstraintsMayLeaveOrdersAndRaggedTilesToTheMapper) {
  const fs::path dir = fs::temp_directory_path() / ("einsim-sweep-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string root = fs::absolute(".").string();
  const std::string constraints = (dir / "constraints-orders.yaml").string();
  std::ofstream(constraints) << "version: 1\nname: c\narch: " << root
                             << "/configs/arch/systolic.yaml\nworkload: " << root
                             << "/configs/workloads/gemm.yaml\ngroups:\n  - name: gemm\n    order: auto\n"
                             << "    loops:\n      dram: [{index: m, tile: auto}, {index: n, tile: auto}]\n"
                             << "      glb: [{index: k, tile: 32}]\n"
                             << "    einsums:\n      Z: {unit: array, spatial: {rows: k, cols: n}}\n";
  const SweepRun run = run_sweep_file("constraints-orders",
                                      "version: 1\nname: c\nfidelity: both\naxes: {N: [1000]}\n"
                                      "parts:\n  gemm:\n    constraints: " +
                                          constraints + "\n    ragged: true\n    set: {M: 96, N: \"{N}\", K: 64}\n");
  EXPECT_EQ(run.summary.ran, 2);
  EXPECT_EQ(run.summary.failed, 0);
  const std::vector<Row>& rows = run.rows;
  ASSERT_EQ(rows.size(), 2u);
  const fs::path file = run.dir / "s.yaml";
  const MappingSpec templ = load_mapping(constraints);
  const Cascade cascade = test::load(templ.workload, {{"M", "96"}, {"N", "1000"}, {"K", "64"}});
  const ArchSpec arch = load_arch(templ.arch);
  const MapChoice choice = best_choice(cascade, arch, templ, true);
  EXPECT_NE(1000 % choice.tiles[1], 0) << "a block of columns that divides: " << choice.tiles[1];
  const Stats s = evaluate_analytical(cascade, arch, lower(cascade, arch, with_choice(templ, choice)));
  EXPECT_LT(s.cycles, evaluate_analytical(cascade, arch,
                                          lower(cascade, arch, with_choice(templ, best_choice(cascade, arch, templ))))
                          .cycles);
  EXPECT_EQ(std::get<int64_t>(cell(rows[0], "cycles")), s.cycles);
  EXPECT_EQ(std::get<int64_t>(cell(rows[1], "traffic_dram_read")), s.traffic_bytes.at("dram").read);
  EXPECT_EQ(std::get<int64_t>(cell(rows[1], "traffic_dram_write")), s.traffic_bytes.at("dram").write);

  std::ofstream(file) << "version: 1\nname: c\nfidelity: analytical\naxes: {M: [64]}\nparts:\n  gemm:\n    mapping: "
                      << root << "/configs/mappings/gemm-systolic-ws.yaml\n    ragged: true\n";
  try {
    load_sweep(file.string());
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("parts.gemm.ragged"), std::string::npos) << e.what();
  }
}

// `mapping: auto` without constraints: the mapper searches the part's workload on its arch with nothing pinned
// (every Einsum's unit, spatial map, order and tiles), at each point, at both fidelities; the saved mapping loads
// and evaluates to the row; a second run resumes every point; a part without its workload or arch is refused.
TEST(Sweep, AnUnconstrainedPartIsMappedFromItsWorkloadAndArch) {
  const std::string root = fs::absolute(".").string();
  const std::string text =
      "version: 1\nname: u\nfidelity: both\naxes: {M: [64, 256]}\nparts:\n  gemm:\n"
      "    mapping: auto\n    workload: " +
      root + "/configs/workloads/gemm.yaml\n    arch: " + root +
      "/configs/arch/systolic.yaml\n    set: {M: \"{M}\", N: 128, K: 64}\n";
  const SweepRun run = run_sweep_file("unconstrained", text, 2);
  EXPECT_EQ(run.summary.ran, 4);
  EXPECT_EQ(run.summary.failed, 0);
  ASSERT_EQ(run.rows.size(), 4u);
  for (size_t i = 0; i < run.rows.size(); i += 2) {
    const std::string m = i == 0 ? "64" : "256";
    const Cascade cascade = test::load(root + "/configs/workloads/gemm.yaml", {{"M", m}, {"N", "128"}, {"K", "64"}});
    const ArchSpec arch = load_arch(root + "/configs/arch/systolic.yaml");
    const MapResult best = map_tiles(cascade, arch, unconstrained(cascade, arch), MapOptions{});
    ASSERT_FALSE(best.best.empty());
    EXPECT_EQ(std::get<int64_t>(cell(run.rows[i], "cycles")), best.best.front().stats.cycles) << "M = " << m;
    const std::string saved = std::get<std::string>(cell(run.rows[i], "mapped_gemm"));
    const DesignPoint p =
        test::point((fs::path(run.options.out_dir) / saved).string(), {{"M", m}, {"N", "128"}, {"K", "64"}});
    EXPECT_EQ(evaluate_analytical(p.cascade, p.arch, p.program).cycles, best.best.front().stats.cycles) << "M = " << m;
  }
  SweepOptions again = run.options;
  again.resume = true;
  const SweepSummary resumed = run_sweep(run.spec, again);
  EXPECT_EQ(resumed.ran, 0);
  EXPECT_EQ(resumed.skipped, 4);

  std::ofstream(run.dir / "s.yaml") << "version: 1\nname: u\nfidelity: analytical\naxes: {M: [64]}\nparts:\n"
                                    << "  gemm:\n    mapping: auto\n    workload: " << root
                                    << "/configs/workloads/gemm.yaml\n";
  try {
    load_sweep((run.dir / "s.yaml").string());
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("parts.gemm.mapping"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("give both"), std::string::npos) << e.what();
  }
}

// `fuse: N` beside `mapping: auto` without constraints: the mapper searches fusion too, at each point (map_fused),
// both fidelities evaluate the fused choice, and the saved mapping has the fused groups and evaluates to the row.
TEST(Sweep, AnUnconstrainedPartMayHaveFusionSearched) {
  const std::string root = fs::absolute(".").string();
  const std::string text =
      "version: 1\nname: f\nfidelity: both\naxes: {N: [64, 256]}\nparts:\n  norm:\n"
      "    mapping: auto\n    fuse: 4\n    workload: " +
      root + "/configs/workloads/rmsnorm.yaml\n    arch: " + root +
      "/configs/arch/fusemax.yaml\n    set: {N: \"{N}\", D: 512}\n";
  const SweepRun run = run_sweep_file("fused", text, 2);
  EXPECT_EQ(run.summary.ran, 4);
  EXPECT_EQ(run.summary.failed, 0);
  ASSERT_EQ(run.rows.size(), 4u);
  for (size_t i = 0; i < run.rows.size(); i += 2) {
    const std::string n = i == 0 ? "64" : "256";
    const Cascade cascade = test::load(root + "/configs/workloads/rmsnorm.yaml", {{"N", n}, {"D", "512"}});
    const ArchSpec arch = load_arch(root + "/configs/arch/fusemax.yaml");
    const MapResult best = map_fused(cascade, arch, unconstrained(cascade, arch), MapOptions{}, 4);
    ASSERT_FALSE(best.best.empty());
    EXPECT_LT(best.fused_groups.size(), 4u) << "N = " << n;  // fusing the norm's four Einsums pays
    EXPECT_EQ(std::get<int64_t>(cell(run.rows[i], "cycles")), best.best.front().stats.cycles) << "N = " << n;
    const std::string saved = std::get<std::string>(cell(run.rows[i], "mapped_norm"));
    const DesignPoint p = test::point((fs::path(run.options.out_dir) / saved).string(), {{"N", n}, {"D", "512"}});
    EXPECT_EQ(p.mapping.groups.size(), best.fused_groups.size()) << "N = " << n;
    EXPECT_EQ(evaluate_analytical(p.cascade, p.arch, p.program).cycles, best.best.front().stats.cycles) << "N = " << n;
  }
}

// Params the constraints list (FuseMax's M0) are chosen per point: the saved mapping pins the chosen value and the
// point's own params (BERT's preset, then the part's set), loads like a hand mapping and, given nothing else,
// evaluates to the point's analytical row.
TEST(Sweep, ListedParamsAreChosenAndTheSavedMappingPinsThem) {
  const std::string root = fs::absolute(".").string();
  const SweepRun run = run_sweep_file("params", mapped_attention_sweep("attention-fusemax-m0", "[1024]"), 2);
  EXPECT_EQ(run.summary.ran, 2);
  EXPECT_EQ(run.summary.failed, 0);
  const std::vector<Row>& rows = run.rows;
  ASSERT_EQ(rows.size(), 2u);
  const SweepOptions& o = run.options;
  const std::string saved = std::get<std::string>(cell(rows[0], "mapped_attention"));
  const DesignPoint p = test::point((fs::path(o.out_dir) / saved).string());
  ASSERT_EQ(p.mapping.params.size(), 9u);
  EXPECT_EQ(p.mapping.params[0].first, "M0");
  EXPECT_EQ(std::vector(p.mapping.params.begin() + 1, p.mapping.params.end()),
            (std::vector<std::pair<std::string, std::string>>{{"H", "12"},
                                                              {"KH", "12"},
                                                              {"E", "64"},
                                                              {"F", "64"},
                                                              {"B", "1"},
                                                              {"M", "1024"},
                                                              {"P", "1024"},
                                                              {"dtype", "bf16"}}));
  EXPECT_EQ(p.cascade.param("M0")->value, std::stod(p.mapping.params[0].second));
  EXPECT_EQ(std::get<int64_t>(cell(rows[0], "cycles")), evaluate_analytical(p.cascade, p.arch, p.program).cycles);
  std::ifstream in(fs::path(o.out_dir) / fs::path(saved).replace_extension(".json"));
  const nlohmann::ordered_json search = nlohmann::ordered_json::parse(in);
  EXPECT_EQ(search.at("params").at("M0").get<std::string>(), p.mapping.params[0].second);
  EXPECT_EQ(search.at("alternatives").size(), 5u);  // 64 ... 1024, each bound and searched
}

// A part's constraints may list alternatives (`mapping: auto` beside FLAT's constraints: its scores kept in the
// buffer, or spilled to DRAM): at each point the faster is evaluated at both fidelities, and the mapping chosen is
// saved beside the point's rows (mappings/POINT-PART.yaml, named in the `mapped_PART` column): a mapping that loads
// like a hand-written one and evaluates to the row's figures. Shards merged bring their mappings along.
TEST(Sweep, AlternativesAreMappedAndEachPointsMappingIsSavedBesideItsRow) {
  const std::string root = fs::absolute(".").string();
  const SweepRun run = run_sweep_file("alternatives", mapped_attention_sweep("attention-flat", "[1024, 262144]"), 2);
  EXPECT_EQ(run.summary.ran, 4);
  EXPECT_EQ(run.summary.failed, 0);
  const std::vector<Row>& rows = run.rows;
  ASSERT_EQ(rows.size(), 4u);
  const SweepOptions& o = run.options;
  const SweepSpec& spec = run.spec;
  const fs::path& dir = run.dir;
  for (size_t i = 0; i < rows.size(); i += 2) {
    const std::string seq = i == 0 ? "1024" : "262144";
    const std::string saved = std::get<std::string>(cell(rows[i], "mapped_attention"));
    EXPECT_EQ(saved, fmt::format("mappings/{}-attention.yaml", i / 2));
    EXPECT_EQ(std::get<std::string>(cell(rows[i + 1], "mapped_attention")), saved);
    const DesignPoint p =
        test::point((fs::path(o.out_dir) / saved).string(), {{"B", "1"}, {"M", seq}, {"P", seq}, {"dtype", "bf16"}},
                    {root + "/configs/workloads/models/bert.yaml"});
    EXPECT_EQ(p.mapping.name, i == 0 ? "attention-flat-kept-mapped" : "attention-flat-spilled-mapped") << seq;
    const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
    EXPECT_EQ(std::get<int64_t>(cell(rows[i], "cycles")), s.cycles) << seq;
    EXPECT_EQ(std::get<int64_t>(cell(rows[i + 1], "traffic_dram_write")), s.traffic_bytes.at("dram").write) << seq;
    // Beside it, the search that chose it: its best is this mapping, and each alternative's best is there.
    std::ifstream in(fs::path(o.out_dir) / fs::path(saved).replace_extension(".json"));
    const nlohmann::ordered_json search = nlohmann::ordered_json::parse(in);
    EXPECT_EQ(search.at("top").at(0).at("cycles").get<int64_t>(), s.cycles) << seq;
    EXPECT_EQ(search.at("alternatives").size(), 2u);
    EXPECT_EQ(search.at("chosen").get<std::string>(),
              fs::path(root + "/configs/constraints/attention-flat-" + (i == 0 ? "kept" : "spilled") + ".yaml")
                  .lexically_normal()
                  .string());
  }

  // Two shards merged: the same rows, and each row's mapping beside it, the same bytes.
  auto read = [](const fs::path& f) {
    std::ifstream in(f);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::vector<std::string> shards;
  for (int shard = 1; shard <= 2; ++shard) {
    SweepOptions so = o;
    so.out_dir = (dir / fmt::format("shard{}", shard)).string();
    so.shard = shard;
    so.shards = 2;
    run_sweep(spec, so);
    shards.push_back(so.out_dir);
  }
  const std::string merged = (dir / "merged").string();
  merge_results(shards, merged);
  for (const std::string f : {"mappings/0-attention.yaml", "mappings/0-attention.json", "mappings/1-attention.yaml",
                              "mappings/1-attention.json"})
    EXPECT_EQ(read(fs::path(merged) / f), read(fs::path(o.out_dir) / f)) << f;
}

// `rerank_cycle: K` simulates the mapper's K best for a part's constraints at cycle level and keeps the fewest
// cycles there, at both fidelities: the search beside the point records each figure and the rank kept, and the
// cycle-level row is that figure.
TEST(Sweep, RerankCycleKeepsTheCandidateFewestCyclesAtCycleLevel) {
  const std::string constraints = fs::absolute("configs/constraints/gemm-systolic-ws.yaml").string();
  const SweepRun run =
      run_sweep_file("rerank",
                     "version: 1\nname: r\nfidelity: both\naxes: {M: [128]}\nparts:\n"
                     "  gemm:\n    mapping: auto\n    constraints: " +
                         constraints + "\n    rerank_cycle: 3\n    set: {M: \"{M}\", N: 128, K: 64}\n");
  EXPECT_EQ(run.summary.failed, 0);
  const std::vector<Row>& rows = run.rows;
  ASSERT_EQ(rows.size(), 2u);
  const SweepOptions& o = run.options;
  std::ifstream in(fs::path(o.out_dir) / "mappings/0-gemm.json");
  const nlohmann::ordered_json search = nlohmann::ordered_json::parse(in);
  ASSERT_EQ(search.at("rerank_cycle").size(), 3u);
  int64_t fewest = -1;
  for (const auto& f : search.at("rerank_cycle")) {
    const int64_t c = f.at("cycle_level_cycles").get<int64_t>();
    if (fewest < 0 || c < fewest) fewest = c;
  }
  const size_t kept = search.at("chosen_rank").get<size_t>();
  EXPECT_EQ(search.at("rerank_cycle").at(kept - 1).at("cycle_level_cycles").get<int64_t>(), fewest);
  EXPECT_EQ(std::get<int64_t>(cell(rows[1], "cycles")), fewest);
  // The analytical row evaluates the same choice: the traffic the tiles decide is the same.
  EXPECT_EQ(std::get<int64_t>(cell(rows[0], "traffic_dram_read")),
            std::get<int64_t>(cell(rows[1], "traffic_dram_read")));
  EXPECT_EQ(search.at("top").at(kept - 1).at("cycles").get<int64_t>(), std::get<int64_t>(cell(rows[0], "cycles")));
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// Pipeline parallelism (`pipeline:`): two parts' layers (6 and 5 of them) over 1 to 4 stages of H100-like devices,
// 1 to 4 micro-batches, both schedules. Each point's cycles are the closed form's from one layer of each part
// evaluated on its own (the busiest stage holds ceil(count / stages) of each), its energy every micro-batch's
// through every layer and its hand-overs' over NVLink, and its row says the stage, the hand-over and the bubble.
TEST(Sweep, APipelinesPointTakesItsClosedFormFromItsLayers) {
  const std::string root = fs::absolute(".").string();
  for (const std::string schedule : {"fill_drain", "steady"}) {
    const std::string text =
        "version: 1\nname: p\nfidelity: analytical\naxes: {stages: [1, 2, 4], mb: [1, 2, 4]}\nparts:\n"
        "  ffn:\n    mapping: " +
        root +
        "/configs/mappings/llm/ffn-swiglu.yaml\n"
        "    set: {N: \"8 / {mb}\", D: 256, FF: 512, arch.nvlink.transfer_energy: \"0.5\"}\n    count: \"6\"\n"
        "  attention:\n    mapping: " +
        root +
        "/configs/mappings/llm/decode-attention.yaml\n"
        "    set: {B: \"8 / {mb}\", L: 512, D: 256, H: 4, KH: 4, E: 64, F: 64}\n    count: \"5\"\n"
        "pipeline: {stages: \"{stages}\", micro_batches: \"{mb}\", send_bytes: \"8 / {mb} * 256 * 2\", schedule: " +
        schedule + "}\n";
    const SweepRun run = run_sweep_file("pipeline-" + schedule, text, 2);
    EXPECT_EQ(run.summary.failed, 0);
    ASSERT_EQ(run.rows.size(), 9u);
    // The links of the first part's architecture (a byte over one: 0.5 pJ).
    const ArchSpec arch = load_arch(root + "/configs/arch/xpu-h100.yaml", {{"nvlink.transfer_energy", "0.5"}});
    const DevicesRole& links = *arch.devices();
    ASSERT_EQ(links.link_pJ_per_byte(), 0.5);
    const PipelineSchedule s = schedule == "steady" ? PipelineSchedule::steady : PipelineSchedule::fill_drain;
    for (const Row& row : run.rows) {
      const int64_t stages = std::stoll(std::get<std::string>(cell(row, "stages")));
      const int64_t mb = std::stoll(std::get<std::string>(cell(row, "mb")));
      const std::string at = fmt::format("{} stages {} micro-batches {}", schedule, stages, mb);
      const std::string n = std::to_string(8 / mb);
      const DesignPoint ffn =
          test::point(root + "/configs/mappings/llm/ffn-swiglu.yaml", {{"N", n}, {"D", "256"}, {"FF", "512"}}, {},
                      {{"nvlink.transfer_energy", "0.5"}});
      const DesignPoint attention =
          test::point(root + "/configs/mappings/llm/decode-attention.yaml",
                      {{"B", n}, {"L", "512"}, {"D", "256"}, {"H", "4"}, {"KH", "4"}, {"E", "64"}, {"F", "64"}});
      const Stats f = evaluate_analytical(ffn.cascade, ffn.arch, ffn.program);
      const Stats a = evaluate_analytical(attention.cascade, attention.arch, attention.program);
      const int64_t stage = ceil_div(6, stages) * f.cycles + ceil_div(5, stages) * a.cycles;
      const double bytes = 8.0 / static_cast<double>(mb) * 256 * 2;
      const int64_t sends = pipeline_sends(s, stages);
      const int64_t send =
          sends ? static_cast<int64_t>(std::ceil((links.link_latency_s() + bytes / links.link_Bps()) * arch.clock_hz))
                : 0;
      EXPECT_EQ(std::get<int64_t>(cell(row, "pipeline_stage_cycles")), stage) << at;
      EXPECT_EQ(std::get<int64_t>(cell(row, "pipeline_send_cycles")), send) << at;
      const int64_t cycles = std::get<int64_t>(cell(row, "cycles"));
      EXPECT_EQ(cycles, pipeline_cycles(s, stages, mb, stage, send)) << at;
      EXPECT_DOUBLE_EQ(std::get<double>(cell(row, "pipeline_bubble")),
                       1 - static_cast<double>(mb * stage) / static_cast<double>(cycles))
          << at;
      const double energy = static_cast<double>(mb) * (6 * f.energy_pJ + 5 * a.energy_pJ) +
                            static_cast<double>(mb * sends) * bytes * links.link_pJ_per_byte();
      EXPECT_NEAR(std::get<double>(cell(row, "energy_pJ")), energy, 1e-9 * energy) << at;
    }
  }
  // Stages on an architecture without links to hand activations over: that point's error, with the reason.
  const SweepRun none = run_sweep_file(
      "pipeline-no-links",
      "version: 1\nname: p\nfidelity: analytical\naxes: {stages: [1, 2]}\nparts:\n  gemm:\n    mapping: " + root +
          "/configs/mappings/gemm-systolic-ws.yaml\n    count: \"4\"\n"
          "pipeline: {stages: \"{stages}\", send_bytes: \"1024\"}\n");
  ASSERT_EQ(none.rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(cell(none.rows[0], "status")), "ok");
  EXPECT_EQ(std::get<std::string>(cell(none.rows[1], "status")), "error");
  EXPECT_NE(std::get<std::string>(cell(none.rows[1], "reason")).find("has no interconnect"), std::string::npos)
      << std::get<std::string>(cell(none.rows[1], "reason"));
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// configs/sweeps/chunked-prefill.yaml evaluates a prompt's first and last chunk steps for their mean: a step's time
// grows linearly with the tokens cached before its chunk (PL), so that mean is the mean over every chunk's step.
// Llama-2 7B's attention with 32 decoding sequences at 4,224 tokens, a prompt of 4,096 in chunks of 256 to 2,048.
TEST(Sweep, TheChunkedPrefillStudysTwoStepsAreTheMeanStep) {
  const std::string root = fs::absolute(".").string();
  for (const int64_t chunk : {256, 512, 1024, 2048}) {
    auto step = [&](int64_t pl) {
      const DesignPoint p = test::point(
          root + "/configs/mappings/llm/serving-attention-chunked.yaml",
          {{"B", "32"}, {"L", "4224"}, {"BP", "1"}, {"P", std::to_string(chunk)}, {"PL", std::to_string(pl)}},
          {root + "/configs/workloads/models/llama2-7b.yaml"});
      const Stats s = evaluate_analytical(p.cascade, p.arch, p.program);
      EXPECT_TRUE(s.status.ok) << s.status.reason;
      return s.cycles;
    };
    const int64_t n = 4096 / chunk;
    int64_t all = 0;
    for (int64_t k = 0; k < n; ++k) all += step(k * chunk);
    EXPECT_EQ(2 * all, n * (step(0) + step(4096 - chunk))) << "chunks of " << chunk;
  }
}

}  // namespace
}  // namespace einsim

namespace einsim {
namespace {

// Each part's own figures in the rows (part_NAME_cycles, _latency_s, _energy_pJ) add up to the point's, are 0 where
// the part does not run, and derived columns may use them; a name that is no part's is an error at its line.
TEST(Sweep, EachPartsFiguresAreColumnsDerivedColumnsMayUse) {
  const std::string root = fs::absolute(".").string();
  const std::string parts = "parts:\n  ws-gemm:\n    mapping: " + root +
                            "/configs/mappings/gemm-systolic-ws.yaml\n    count: \"2\"\n  os:\n    when: {m: \"128\"}\n"
                            "    mapping: " +
                            root + "/configs/mappings/gemm-systolic-os.yaml\n    set: {M: \"{m}\"}\n";
  const SweepRun run = run_sweep_file(
      "part-columns", "version: 1\nname: parts\nfidelity: analytical\naxes: {m: [64, 128]}\n" + parts +
                          "columns:\n  share: part_ws_gemm_cycles / cycles\n  os_us: part_os_latency_s * 1e6\n");
  ASSERT_EQ(run.rows.size(), 2u);
  for (const Row& row : run.rows) {
    const bool both = std::get<std::string>(cell(row, "m")) == "128";
    const int64_t ws = std::get<int64_t>(cell(row, "part_ws_gemm_cycles"));
    const int64_t os = std::get<int64_t>(cell(row, "part_os_cycles"));
    EXPECT_EQ(ws + os, std::get<int64_t>(cell(row, "cycles")));
    const DesignPoint p = test::point(root + "/configs/mappings/gemm-systolic-ws.yaml");
    EXPECT_EQ(ws, 2 * evaluate_analytical(p.cascade, p.arch, p.program).cycles);
    EXPECT_EQ(os > 0, both);
    EXPECT_DOUBLE_EQ(std::get<double>(cell(row, "part_os_energy_pJ")) > 0, both);
    EXPECT_DOUBLE_EQ(std::get<double>(cell(row, "share")),
                     static_cast<double>(ws) / static_cast<double>(std::get<int64_t>(cell(row, "cycles"))));
    EXPECT_DOUBLE_EQ(std::get<double>(cell(row, "os_us")), std::get<double>(cell(row, "part_os_latency_s")) * 1e6);
  }
  std::ofstream(run.dir / "bad.yaml") << "version: 1\nname: parts\nfidelity: analytical\naxes: {m: [64, 128]}\n"
                                      << parts << "columns:\n  x: part_gemm_cycles\n";
  try {
    load_sweep((run.dir / "bad.yaml").string());
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("'part_gemm_cycles' is neither an axis"), std::string::npos) << e.what();
  }
}

// A pipeline's stage keeps ceil(layers / stages) of each part's layers in its memory: each layer's weights once, and
// each micro-batch's cache and activations (whatever grows with the batch). So what a stage keeps does not depend on
// how the batch is split, only on the batch. Counted by hand: one layer's footprint from its own lowering at one
// and two sequences gives its bytes a sequence, and the rest are the weights (the attention's four projections,
// the FFN's three matrices, in bf16).
TEST(Sweep, APipelinesStageKeepsItsWeightsOnceAndEveryMicroBatchsCache) {
  const std::string root = fs::absolute(".").string();
  auto footprint = [&](const std::string& mapping, const std::vector<std::pair<std::string, std::string>>& params) {
    const DesignPoint p = test::point(root + mapping, params);
    return evaluate_analytical(p.cascade, p.arch, p.program).footprint_bytes;
  };
  auto attention = [&](int64_t b) {
    return footprint(
        "/configs/mappings/llm/decode-attention.yaml",
        {{"B", std::to_string(b)}, {"L", "512"}, {"D", "256"}, {"H", "4"}, {"KH", "4"}, {"E", "64"}, {"F", "64"}});
  };
  auto ffn = [&](int64_t n) {
    return footprint("/configs/mappings/llm/ffn-swiglu.yaml", {{"N", std::to_string(n)}, {"D", "256"}, {"FF", "512"}});
  };
  const int64_t a_seq = attention(2) - attention(1), f_seq = ffn(2) - ffn(1);
  const int64_t a_weights = attention(1) - a_seq, f_weights = ffn(1) - f_seq;
  ASSERT_EQ(a_weights, 4 * 256 * 4 * 64 * 2);  // WQ, WK, WV, WO
  ASSERT_EQ(f_weights, 3 * 256 * 512 * 2);     // W1, W3, W2
  const int64_t capacity = 12 << 20;
  const SweepRun run = run_sweep_file(
      "pipeline-capacity",
      "version: 1\nname: p\nfidelity: analytical\naxes: {stages: [1, 2, 4], mb: [1, 2, 4], batch: [8]}\nparts:\n"
      "  ffn:\n    mapping: " +
          root +
          "/configs/mappings/llm/ffn-swiglu.yaml\n"
          "    set: {N: \"{batch} / {mb}\", D: 256, FF: 512, arch.dram.capacity: 12 MiB}\n"
          "    count: \"6\"\n    resident: \"6\"\n"
          "  attention:\n    mapping: " +
          root +
          "/configs/mappings/llm/decode-attention.yaml\n"
          "    set: {B: \"{batch} / {mb}\", L: 512, D: 256, H: 4, KH: 4, E: 64, F: 64, arch.dram.capacity: 12 MiB}\n"
          "    count: \"5\"\n    resident: \"5\"\n"
          "pipeline: {stages: \"{stages}\", micro_batches: \"{mb}\", send_bytes: \"1024\"}\nfit: batch\n",
      2);
  EXPECT_EQ(run.summary.failed, 0);
  ASSERT_EQ(run.rows.size(), 9u);
  for (const Row& row : run.rows) {
    const int64_t stages = std::stoll(std::get<std::string>(cell(row, "stages")));
    const int64_t mb = std::stoll(std::get<std::string>(cell(row, "mb")));
    const std::string at = fmt::format("{} stages {} micro-batches", stages, mb);
    auto stage = [&](int64_t batch) {
      return ceil_div(6, stages) * (f_weights + batch * f_seq) + ceil_div(5, stages) * (a_weights + batch * a_seq);
    };
    EXPECT_EQ(std::get<std::string>(cell(row, "status")), stage(8) <= capacity ? "ok" : "infeasible") << at;
    int64_t largest = 0;
    while (stage(largest + mb) <= capacity) largest += mb;
    EXPECT_EQ(std::get<int64_t>(cell(row, "fit_batch")), largest) << at;
    if (stages == 2 && mb == 4) {
      EXPECT_EQ(
          std::get<std::string>(cell(row, "reason")),
          fmt::format("each stage keeps {} in 'dram' on each device (ffn 3 x ({} + 4 x {}), attention 3 x ({} + 4 "
                      "x {})), more than its capacity of 12 MiB",
                      format_bytes(static_cast<double>(stage(8))), format_bytes(static_cast<double>(f_weights)),
                      format_bytes(static_cast<double>(2 * f_seq)), format_bytes(static_cast<double>(a_weights)),
                      format_bytes(static_cast<double>(2 * a_seq))));
    }
  }
}

}  // namespace
}  // namespace einsim
