#pragma once
// A MappingSpec written back as a mapping file: what the mapper writes once it has chosen what a constraints file
// leaves open. It loads (load_mapping) to the same spec; comments and layout are not kept.
#include <string>

#include "mappings/spec.hpp"

namespace einsim {

// The mapping as YAML, its arch and workload paths relative to `out_file`'s folder.
std::string mapping_yaml(const MappingSpec& mapping, const std::string& out_file);

}  // namespace einsim
