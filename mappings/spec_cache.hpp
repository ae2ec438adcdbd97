#pragma once
// The Specs a sweep's points are built from: each file read and parsed once, and each (file, overrides)
// resolved once and shared, immutable, by every point that names it. Thread-safe. A resolution that fails
// fails the same way for every point that asks, and what each resolution read is kept for resume hashes.
#include <cstdint>
#include <exception>
#include <functional>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "arch/spec.hpp"
#include "mappings/spec.hpp"
#include "workloads/cascade.hpp"

namespace einsim {

using FileList = std::vector<std::pair<std::string, uint64_t>>;  // path, hash of its contents

// What names one design point's Specs: a mapping, and the arch and workload it names unless these are given.
struct SpecInputs {
  std::string mapping;   // or, with `map`, constraints: a mapping whose `auto` tiles and orders the mapper chooses
  std::string arch;      // empty: the mapping's
  std::string workload;  // empty: the mapping's
  WorkloadOverrides workload_overrides;
  std::vector<std::pair<std::string, std::string>> arch_sets;
  bool map = false;
  bool ragged = false;  // with `map`, the mapper searches tiles that do not divide their index too
  int rerank_cycle = 0;  // with `map`, the mapper's best this many are simulated, and the fewest cycles kept
  int fuse = 1;          // with `map`, the mapper searches fusion of up to this many consecutive groups too (map_fused)
  MapChoice choice;     // with `map`, what the mapper already chose (empty: choose it)
};

// What the mapper chose for constraints: the inputs of the mapping chosen (the constraints, or the alternative
// they list that won, with its choice), and the search that chose it as JSON text (its certificate and the
// candidates it ranked, which a sweep saves beside the point's rows).
struct ChosenMapping {
  SpecInputs inputs;
  std::string search;
  std::vector<MapChoice> ranked;  // the chosen file's best choices, best first (inputs.choice the first)
};

// A design point's identity as JSON: how a sweep hands a point to a cycle-level worker process.
nlohmann::ordered_json to_json(const SpecInputs& in);
SpecInputs spec_inputs_from_json(const nlohmann::ordered_json& j);  // throws UserError on a malformed one

struct ResolvedSpecs {
  std::shared_ptr<const MappingSpec> mapping;
  std::shared_ptr<const ArchSpec> arch;
  std::shared_ptr<const Cascade> cascade;
};

class SpecCache {
 public:
  // Throws the UserError (or other exception) its first resolution threw.
  ResolvedSpecs resolve(const SpecInputs& in);
  // The cascade `in` resolves to, bound anew and not kept: a search over one param's values (a sweep's `fit:`)
  // binds many that no point evaluates. Its files are read once, as resolve's are.
  Cascade bind(const SpecInputs& in);
  // The mapping (or constraints) file `file`, read once. Throws the UserError its reading threw.
  std::shared_ptr<const MappingSpec> mapping(const std::string& file);
  // What `make` chooses for constraints `in` (the mapper's choice), chosen once per `in` and shared.
  std::shared_ptr<const ChosenMapping> chosen(const SpecInputs& in,
                                              const std::function<std::shared_ptr<const ChosenMapping>()>& make);
  // Every file resolving `in` reads (the mapping, arch, workload, param presets, energy table, DRAM presets), as
  // far as it gets when it fails; for constraints that list alternatives, every alternative's.
  FileList files(const SpecInputs& in);

 private:
  // Resolved once: the first thread to ask resolves it, outside the cache's lock, and any other that asks for it
  // meanwhile waits (a mapper's choice takes seconds; two threads must not both make it).
  template <class T>
  struct Entry {
    std::once_flag once;
    std::atomic<bool> ready{false};  // once resolved: files() reads only these
    std::shared_ptr<const T> value;
    std::exception_ptr error;
    FileList files;
  };
  template <class T, class Load>  // Load returns a std::shared_ptr<const T>
  const Entry<T>& get(std::map<std::string, Entry<T>>& cache, const std::string& key, Load load);
  // The workload `in` names (its mapping's, `m`, unless it names one; m null: a generated mapping's, which
  // `in.workload` names), read once, and the params its point binds it with.
  struct BoundWorkload {
    std::string file;
    std::shared_ptr<const WorkloadSource> source;
    WorkloadOverrides overrides;
  };
  BoundWorkload workload_of(const SpecInputs& in, const MappingSpec* m);

  std::mutex mutex_;
  std::map<std::string, Entry<MappingSpec>> mappings_;
  std::map<std::string, Entry<ArchSpec>> archs_;
  std::map<std::string, Entry<WorkloadSource>> workloads_;  // by file
  std::map<std::string, Entry<Cascade>> cascades_;          // by file and params
  std::map<std::string, Entry<ChosenMapping>> chosen_;      // by the inputs, as JSON
};

}  // namespace einsim
