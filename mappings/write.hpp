#pragma once
// A MappingSpec written back as a mapping file: what the mapper writes once it has chosen what a constraints file
// leaves open. It loads (load_mapping) to the same spec; comments and layout are not kept.
#include <string>

#include "mappings/spec.hpp"

namespace einsim {

// The mapping as YAML, its arch and workload paths relative to `out_file`'s folder.
std::string mapping_yaml(const MappingSpec& mapping, const std::string& out_file);

// The mapping's loop nests on one line, to set candidates side by side: each group's loops by memory level, outer
// to inner, an index with its tile after '=', then each pass's:
// "attention: dram[b kh g p=512 m1] glb[p=256]; qk: ... pass 1 glb[m=min(M, 256)]".
std::string loop_nest_text(const MappingSpec& mapping);

}  // namespace einsim
