#include "common/overrides.hpp"

#include <fmt/format.h>

namespace einsim {

std::pair<std::string, std::string> parse_setting(const std::string& text, const std::string& option,
                                                  const std::string& example) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw UserError(SourceLoc{}, option + " " + text.substr(0, eq),
                    fmt::format("expected PATH=VALUE, e.g. {} {}", option, example));
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void add_override(DesignOverrides& into, const std::string& path, const std::string& value, const SourceLoc& loc,
                  const std::string& key) {
  if (!path.empty() && path.find('.') == std::string::npos)
    into.workload.emplace_back(path, value);
  else if (path.rfind("workload.", 0) == 0 && path.size() > 9)
    into.workload.emplace_back(path.substr(9), value);
  else if (path.rfind("arch.", 0) == 0 && path.size() > 5)
    into.arch.emplace_back(path.substr(5), value);
  else
    throw UserError(loc, key,
                    "unknown path (use NAME=VALUE or workload.NAME=VALUE for a workload param, "
                    "arch.COMPONENT.KEY=VALUE for the architecture)");
}

}  // namespace einsim
