// Running a sweep: points on -j threads, results committed in batches by one thread, --resume and --shard.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <fstream>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "explore/evaluate.hpp"
#include "explore/mapper.hpp"
#include "explore/results.hpp"
#include "explore/sweep.hpp"
#include "mappings/write.hpp"
#include "workloads/expr.hpp"

namespace einsim {

namespace {

namespace fs = std::filesystem;

extern "C" void on_interrupt(int) { interrupted() = true; }

// FNV-1a over what decides a point's result: einsim's version, the fidelity, and for each part its settings and
// every file resolving it reads (the mapping, the arch and workload it names, param presets, the energy table,
// DRAM presets), by the hash of its contents: editing any of them runs the point again on --resume.
std::string config_hash(const SweepPoint& p, const std::string& version, const std::vector<FileList>& part_files) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  mix(version);
  mix(std::string(fidelity_name(p.fidelity)));
  if (p.pipeline)
    mix(fmt::format("pipeline {} {} {} {}", p.pipeline->stages, p.pipeline->micro_batches, p.pipeline->send_bytes,
                    schedule_name(p.pipeline->schedule)));
  if (!p.fit.empty()) mix("fit " + p.fit);
  for (size_t i = 0; i < p.parts.size(); ++i) {
    const SweepPart& part = p.parts[i];
    for (const std::string& f : {part.mapping, part.arch, part.workload}) mix(f);
    if (part.map) mix(part.ragged ? "constraints, ragged" : "constraints");
    if (part.rerank_cycle) mix(fmt::format("rerank {}", part.rerank_cycle));
    if (part.fuse != 1) mix(fmt::format("fuse {}", part.fuse));
    for (const std::string& f : part.params) mix(f);
    for (const auto& [k, v] : part.sets) mix(k + "=" + v);
    mix(part.count);
    for (const auto& [file, contents] : part_files[i]) mix(fmt::format("{}:{:016x}", file, contents));
  }
  return fmt::format("{:016x}", h);
}

// The sweep as its results' readers (the report, merge, --resume) need it; `points` is how many results the
// whole sweep has (every fidelity), so that a report can say how many are missing.
std::string sweep_meta_json(const SweepSpec& spec, size_t points) {
  nlohmann::ordered_json j;
  j["name"] = spec.name;
  j["description"] = spec.description;
  j["file"] = spec.file;
  j["fidelities"] = nlohmann::ordered_json::array();
  for (const Fidelity f : spec.fidelities) j["fidelities"].push_back(fidelity_name(f));
  j["axes"] = nlohmann::ordered_json::array();
  for (const SweepAxis& a : spec.axes) j["axes"].push_back({{"name", a.name}, {"values", a.values}});
  j["compare"] = nlohmann::ordered_json::array();
  for (const SweepComparison& c : spec.comparisons) {
    j["compare"].push_back({{"name", c.name}, {"axis", c.axis}, {"baseline", c.baseline}});
    if (!c.values.empty()) j["compare"].back()["values"] = c.values;
  }
  j["published"] = nlohmann::ordered_json::array();
  for (const PublishedFigure& p : spec.published)
    j["published"].push_back({{"compare", p.comparison},
                              {"value", p.value},
                              {"where", p.where},
                              {"metric", p.metric},
                              {"figure", p.figure},
                              {"source", p.source},
                              {"explain", p.explain}});
  j["notes"] = spec.notes;
  j["columns"] = nlohmann::ordered_json::array();
  for (const DerivedColumn& c : spec.columns) j["columns"].push_back({{"name", c.name}, {"expression", c.expression}});
  j["points"] = points;
  return j.dump();
}

void add_derived(const SweepSpec& spec, const SweepPoint& p, const Row& stats, Row& row) {
  for (const DerivedColumn& d : spec.columns) {
    auto lookup = [&](const std::string& name) -> double {
      if (const auto v = p.vars.find(name); v != p.vars.end())
        return std::strtod(v->second.c_str(), nullptr);  // checked numeric on load
      for (const auto& [column, cell] : stats)
        if (column == name) {
          if (const auto* i = std::get_if<int64_t>(&cell)) return static_cast<double>(*i);
          return std::get<double>(cell);
        }
      // A memory the point's architecture lacks moved nothing.
      if (name.starts_with("traffic_")) return 0.0;
      throw InternalError("derived column input " + name + " missing");
    };
    const double v = evaluate_real(d.parsed, lookup, [&](const std::string& why) {
      throw UserError(d.loc, "columns." + d.name, why);  // an unknown function: the only error left after loading
    });
    row.emplace_back(d.name, v);
  }
}

// Where a point's mapping for a part that names constraints is saved, relative to the results' folder (and its
// search beside it, .json for .yaml).
std::string mapped_file(int64_t point, const std::string& part) {
  std::string name = part;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return fmt::format("mappings/{}-{}.yaml", point, name);
}

// The mapping the mapper chose at point `p` for a part (`in`: the constraints, or the alternative chosen, with its
// choice), as a file that loads like a hand-written one: the part's arch and workload, under a header saying
// how it was found and with which params.
std::string mapped_text(const SweepSpec& spec, const SweepPoint& p, const SweepPart& part, const SpecInputs& in,
                        SpecCache& specs, const std::string& file) {
  const ResolvedSpecs r = specs.resolve(in);
  MappingSpec m = with_params_bound(with_choice(*r.mapping, in.choice), in.workload_overrides, *r.cascade);
  if (!in.arch.empty()) m.arch = in.arch;
  if (!in.workload.empty()) m.workload = in.workload;
  std::string at, with;
  for (const auto& [ax, v] : p.axes) at += (at.empty() ? "" : ", ") + ax + "=" + v;
  for (const std::string& f : part.params) with += (with.empty() ? "" : ", ") + f;
  for (const auto& [k, v] : part.sets) with += (with.empty() ? "" : ", ") + k + "=" + v;
  std::string text = fmt::format("# Chosen by the mapper for sweep {}, point {} ({}), part {}: the best for latency\n",
                                 spec.name, p.index, at, part.name);
  text += fmt::format("# of {}{}{}.\n",
                      part.mapping.empty()
                          ? part.fuse > 1 ? fmt::format("the workload and architecture alone (runs of up to {} "
                                                        "Einsums' groups fused)",
                                                        part.fuse)
                                          : std::string("the workload and architecture alone (each Einsum on its own)")
                          : "the constraints " + part.mapping,
                      in.mapping != part.mapping ? " (the alternative " + in.mapping + ")" : "",
                      part.ragged ? ", ragged tiles searched too" : "");
  if (!with.empty()) text += "# Evaluated with " + with + ".\n";
  return text + mapping_yaml(m, file);
}

}  // namespace

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  if (options.shards < 1 || options.shard < 1 || options.shard > options.shards)
    throw UserError(SourceLoc{}, "--shard",
                    fmt::format("expected I/N with 1 <= I <= N, got {}/{}", options.shard, options.shards));
  // A file a point names that does not exist is a mistake in the sweep file, found before anything is written,
  // not a failed point.
  std::vector<SweepPoint> points = enumerate_points(spec);
  std::set<std::string> checked;
  for (const SweepPoint& p : points)
    for (const SweepPart& part : p.parts) {
      part_count(part, &p);
      part_resident(part, &p);
      std::vector<std::pair<std::string, std::string>> files = {
          {part.map ? "constraints" : "mapping", part.mapping}, {"arch", part.arch}, {"workload", part.workload}};
      for (const std::string& f : part.params) files.emplace_back("params", f);
      for (const auto& [key, f] : files) {
        if (f.empty() || !checked.insert(f).second) continue;
        if (!fs::is_regular_file(f)) {
          std::string at;
          for (const auto& [ax, v] : p.axes) at += (at.empty() ? "" : ", ") + ax + "=" + v;
          throw UserError(part.locs.at(key), "parts." + part.name + "." + key,
                          fmt::format("{} {} (at {})", f, fs::exists(f) ? "is not a file" : "does not exist", at));
        }
      }
    }
  // Every file is read and parsed once, and each part's Specs resolved once, for the hashes and the evaluations.
  SpecCache specs;

  fs::create_directories(options.out_dir);
  const DirectoryLock writing(options.out_dir);
  ResultsDb db((fs::path(options.out_dir) / "results.sqlite").string());
  if (!options.resume && db.rows() > 0)
    throw UserError(SourceLoc{options.out_dir}, "-o",
                    "the directory already holds results: --resume to complete them, or choose another directory");
  if (options.resume && db.rows() > 0) {
    // The rows there are kept only if they are this sweep's points: the same name, fidelities and axes (its
    // explanations may change). Otherwise the results and the report would mix two sweeps.
    const auto identity = [](const std::string& meta) {
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(meta, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return nlohmann::ordered_json();
      return nlohmann::ordered_json{{"name", j.value("name", nlohmann::ordered_json())},
                                    {"fidelities", j.value("fidelities", nlohmann::ordered_json())},
                                    {"axes", j.value("axes", nlohmann::ordered_json())}};
    };
    if (identity(db.meta("sweep")) != identity(sweep_meta_json(spec, points.size())))
      throw UserError(SourceLoc{options.out_dir}, "--resume",
                      "the directory holds the results of another sweep, or of this one with other axes or "
                      "fidelities: choose another directory");
  }
  const std::string& version = options.version;
  db.set_meta("sweep", sweep_meta_json(spec, points.size()));
  db.set_meta("einsim_version", version);

  std::map<std::pair<int64_t, std::string>, std::string> done;
  for (const auto& [key, hash] : db.keys()) done[key] = hash;
  SweepSummary summary;
  std::vector<std::pair<SweepPoint, std::string>> todo;
  for (SweepPoint& p : points) {
    if (p.index % options.shards != options.shard - 1) continue;
    ++summary.points;
    std::vector<FileList> part_files;
    for (const SweepPart& part : p.parts) part_files.push_back(specs.files(inputs_of(part)));
    std::string hash = config_hash(p, version, part_files);
    const auto it = done.find({p.index, std::string(fidelity_name(p.fidelity))});
    if (it != done.end() && it->second == hash) {
      ++summary.skipped;
      continue;
    }
    todo.emplace_back(std::move(p), std::move(hash));
  }

  interrupted() = false;
  auto* previous = std::signal(SIGINT, on_interrupt);
  auto* previous_pipe = std::signal(SIGPIPE, SIG_IGN);  // a worker that dies early closes its input: an error row
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::pair<size_t, Outcome>> finished;
  std::atomic<size_t> next{0};
  std::vector<double> wall(todo.size());
  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(todo.size())));
  std::atomic<int> working{jobs};
  std::atomic<bool> stop{false};  // the database failed: no more points
  std::vector<std::thread> threads;
  // However this function ends, the workers stop and are joined first, and SIGINT and SIGPIPE are as they were.
  struct Joiner {
    std::vector<std::thread>& threads;
    std::atomic<bool>& stop;
    void (*previous)(int);
    void (*previous_pipe)(int);
    ~Joiner() {
      stop = true;
      for (std::thread& t : threads)
        if (t.joinable()) t.join();
      std::signal(SIGINT, previous);
      std::signal(SIGPIPE, previous_pipe);
    }
  } joiner{threads, stop, previous, previous_pipe};
  for (int t = 0; t < jobs; ++t)
    threads.emplace_back([&] {
      for (size_t i; !interrupted() && !stop && (i = next++) < todo.size();) {
        const auto t0 = std::chrono::steady_clock::now();
        Outcome o = evaluate(todo[i].first, options.self_exe, specs);
        wall[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::lock_guard lock(m);
        finished.emplace_back(i, std::move(o));
        cv.notify_one();
      }
      std::lock_guard lock(m);
      --working;
      cv.notify_one();
    });
  // This thread alone writes the database, one committed row per point as it finishes.
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return !finished.empty() || working == 0; });
    if (finished.empty()) break;  // every worker is done
    auto [i, o] = std::move(finished.front());
    finished.pop_front();
    lock.unlock();
    if (o.interrupted) continue;  // not a result: --resume runs it again
    const SweepPoint& p = todo[i].first;
    Row results;  // the Stats' columns, then the sweep's derived ones
    if (o.status != PointStatus::error) {
      results = flatten(o.stats);
      if (o.pipeline)  // the pipeline's figures beside the Stats'
        results.insert(results.end(), {{"pipeline_stages", o.pipeline->stages},
                                       {"pipeline_micro_batches", o.pipeline->micro_batches},
                                       {"pipeline_stage_cycles", o.pipeline->stage_cycles},
                                       {"pipeline_send_cycles", o.pipeline->send_cycles},
                                       {"pipeline_bubble", o.pipeline->bubble}});
      if (spec.fit) results.emplace_back("fit_" + spec.fit->axis, o.fit ? Cell{*o.fit} : Cell{});
      for (const SweepPart& part : spec.parts) {  // each part's own figures, 0 where it does not run
        const auto ran =
            std::find_if(o.parts.begin(), o.parts.end(), [&](const auto& x) { return x.name == part.name; });
        const bool in = ran != o.parts.end();
        results.insert(results.end(), {{part_column(part.name, "cycles"), in ? ran->cycles : int64_t{0}},
                                       {part_column(part.name, "latency_s"), in ? ran->latency_s : 0.0},
                                       {part_column(part.name, "energy_pJ"), in ? ran->energy_pJ : 0.0}});
      }
      if (o.status == PointStatus::ok) add_derived(spec, p, Row(results), results);
      if (std::string why = db.clash(results); !why.empty()) {
        o.status = PointStatus::error;
        o.reason = std::move(why);
        results.clear();
      }
    }
    Row row = {{"point", p.index}, {"fidelity", std::string(fidelity_name(p.fidelity))}};
    for (const auto& [ax, v] : p.axes) row.emplace_back(ax, v);
    row.insert(row.end(), {{"status", std::string(status_name(o.status))},
                           {"reason", o.reason},
                           {"config_hash", todo[i].second},
                           {"einsim_version", version},
                           {"wall_s", wall[i]}});
    for (const auto& [name, chosen] : o.mapped) {  // saved beside the row, which names the file
      const auto part =
          std::find_if(p.parts.begin(), p.parts.end(), [&](const SweepPart& x) { return x.name == name; });
      const std::string file = mapped_file(p.index, name);
      const fs::path path = fs::path(options.out_dir) / file;
      fs::create_directories(path.parent_path());
      std::ofstream f(path), search(fs::path(path).replace_extension(".json"));
      f << mapped_text(spec, p, *part, chosen->inputs, specs, path.string());
      search << chosen->search << '\n';
      f.close();
      search.close();
      if (!f || !search) throw UserError(SourceLoc{path.string()}, "-o", "cannot write the point's mapping there");
      row.emplace_back("mapped_" + name, file);
    }
    row.insert(row.end(), results.begin(), results.end());
    if (o.status == PointStatus::error) ++summary.failed;
    db.put(row);
    ++summary.ran;
    if (options.progress) {
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const auto n = static_cast<double>(summary.ran);
      options.progress(summary.ran, static_cast<int64_t>(todo.size()), summary.failed,
                       elapsed / n * (static_cast<double>(todo.size()) - n));
    }
  }
  for (std::thread& t : threads) t.join();
  db.flush();
  summary.interrupted = interrupted();

  write_csv(db.all(), csv_leading(nlohmann::ordered_json::parse(sweep_meta_json(spec, points.size()))), db.columns(),
            (fs::path(options.out_dir) / "results.csv").string());
  return summary;
}

}  // namespace einsim
