#pragma once
// One design point, ready for an evaluator: a mapping, the workload and architecture it names (or others
// given), overrides applied, lowered to its TileProgram.
#include <string>
#include <utility>
#include <vector>

#include "mappings/lower.hpp"

namespace einsim {

struct DesignPoint {
  MappingSpec mapping;
  Cascade cascade;
  ArchSpec arch;
  TileProgram program;
};

DesignPoint load_design_point(const std::string& mapping_file, const WorkloadOverrides& workload = {},
                              const std::vector<std::pair<std::string, std::string>>& arch_sets = {},
                              const std::string& arch_file = "", const std::string& workload_file = "");

}  // namespace einsim
