#pragma once
// Overrides of a design point, from `--set PATH=VALUE` on the command line or a sweep part's `set:` map: one
// parser, one rule for what a path changes. NAME or workload.NAME sets a workload param; arch.PATH an
// architecture field (arch.COMPONENT.KEY, arch.clock); the tool a path goes to applies it to its Specs.
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace einsim {

using Settings = std::vector<std::pair<std::string, std::string>>;  // path, value text, in the order given

struct DesignOverrides {
  Settings workload;  // param name -> value
  Settings arch;      // path below `arch.` -> value
};

// "PATH=VALUE" -> {PATH, VALUE}. `example` shows the right form in the error (it names `option`).
std::pair<std::string, std::string> parse_setting(const std::string& text, const std::string& option,
                                                  const std::string& example);

// Adds one override where its path says; a path that is neither a workload param nor under arch. is a UserError
// at `loc`, naming `key`.
void add_override(DesignOverrides& into, const std::string& path, const std::string& value, const SourceLoc& loc,
                  const std::string& key);

}  // namespace einsim
