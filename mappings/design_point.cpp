#include "mappings/design_point.hpp"

namespace einsim {

DesignPoint load_design_point(const std::string& mapping_file, const WorkloadOverrides& workload,
                              const std::vector<std::pair<std::string, std::string>>& arch_sets,
                              const std::string& arch_file, const std::string& workload_file) {
  DesignPoint p;
  p.mapping = load_mapping(mapping_file);
  require_one_mapping(p.mapping);
  p.cascade = load_cascade(workload_file.empty() ? p.mapping.workload : workload_file,
                           with_mapping_params(p.mapping, workload));
  p.arch = load_arch(arch_file.empty() ? p.mapping.arch : arch_file, arch_sets);
  p.program = lower(p.cascade, p.arch, p.mapping);
  return p;
}

}  // namespace einsim
