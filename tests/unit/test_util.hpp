#pragma once
// Shared by the unit tests: the logged, replayable seed and small helpers around workload files.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>

#include "common/error.hpp"
#include "mappings/design_point.hpp"
#include "workloads/cascade.hpp"

namespace einsim::test {

// EINSIM_SEED replays a run; otherwise a fresh seed, printed so that a failure can be replayed.
inline uint64_t seed() {
  static const uint64_t value = [] {
    const char* env = std::getenv("EINSIM_SEED");
    const uint64_t s = env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "EINSIM_SEED=" << s << std::endl;
    return s;
  }();
  ::testing::Test::RecordProperty("EINSIM_SEED", std::to_string(value));
  return value;
}

inline std::string temp_file(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / ("einsim-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

inline Cascade load(const std::string& file, std::vector<std::pair<std::string, std::string>> params = {}) {
  WorkloadOverrides o;
  o.params = std::move(params);
  return load_cascade(file, o);
}

// A mapping's design point with workload params, presets and architecture overrides.
inline DesignPoint point(const std::string& mapping_file, std::vector<std::pair<std::string, std::string>> params = {},
                         std::vector<std::string> presets = {},
                         const std::vector<std::pair<std::string, std::string>>& arch_sets = {},
                         const std::string& arch_file = {}) {
  WorkloadOverrides o;
  o.params = std::move(params);
  o.param_files = std::move(presets);
  return load_design_point(mapping_file, o, arch_sets, arch_file);
}

// Bytes each tensor's loads bring in over a whole program (every execution of every load op).
inline std::map<std::string, int64_t> loaded_bytes(const TileProgram& program) {
  std::map<std::string, int64_t> out;
  for (const TileGroup& g : program.groups)
    for (const TileOp& op : g.ops)
      if (op.kind == TileOp::Kind::load) out[op.tensor] += op.bytes * g.executions(op);
  return out;
}

// The message of the UserError that loading `text` raises; empty when it loads.
inline std::string load_error(const std::string& text) {
  try {
    load_cascade(temp_file("bad.yaml", text));
  } catch (const UserError& e) {
    return e.what();
  }
  return {};
}

}  // namespace einsim::test
