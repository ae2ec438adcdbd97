// Every component kind einsim knows: a new kind is a folder beside these and one line in the list below.
#include "arch/component.hpp"
#include "arch/kinds/dram/dram.hpp"
#include "arch/kinds/interconnect/interconnect.hpp"
#include "arch/kinds/noc/noc.hpp"
#include "arch/kinds/pe_array/pe_array.hpp"
#include "arch/kinds/pim/pim.hpp"
#include "arch/kinds/sram/sram.hpp"
#include "arch/kinds/topk_engine/topk_engine.hpp"
#include "arch/kinds/vector_array/vector_array.hpp"

namespace einsim {

const std::map<std::string, ComponentKind>& component_kinds() {
  // A new kind is a folder under arch/kinds/ and one line here.
  static const std::map<std::string, ComponentKind> kinds = [] {
    std::map<std::string, ComponentKind> k;
    for (ComponentKind kind : {dram_kind(), sram_kind(), pe_array_kind(), vector_array_kind(), pim_kind(), noc_kind(),
                               topk_engine_kind(), interconnect_kind()})
      k.emplace(kind.name, std::move(kind));
    return k;
  }();
  return kinds;
}

const ComponentKind* find_kind(std::string_view name) {
  const auto& kinds = component_kinds();
  const auto it = kinds.find(std::string(name));
  return it == kinds.end() ? nullptr : &it->second;
}

}  // namespace einsim
