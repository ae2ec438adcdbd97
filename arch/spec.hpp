#pragma once
// The hardware description: YAML -> a validated ArchSpec of named components, each built by its registered
// kind (arch/kinds/). Specs are plain values (what a sweep copies); components are immutable once built.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "arch/component.hpp"
#include "arch/energy_table.hpp"
#include "common/error.hpp"

namespace einsim {

struct ComponentSpec {
  std::string name;
  SourceLoc loc;
  std::string kind_name;
  ParamValues params;  // as read (and overridden): what `model` was built from
  std::shared_ptr<const Component> model;

  std::string_view kind() const { return kind_name; }
  const ComputeRole* compute() const { return model->compute(); }
  const MemoryRole* memory() const { return model->memory(); }
  const PathRole* path() const { return model->path(); }
  const CoresRole* cores() const { return model->cores(); }
  const DevicesRole* devices() const { return model->devices(); }

  // Shorthands over the compute and path roles.
  const std::map<std::string, OpSpec>* ops() const;  // the op kinds it computes; null for others
  int64_t parallelism() const;                       // PEs or lanes; 0 for others
  int64_t op_slots() const;                          // ops it can start per cycle
  double op_rate(double arch_clock_hz) const;        // op slots per cycle of the architecture's clock
  double path_Bps() const;                           // a path's bandwidth; 0 for others
  std::optional<double> area_um2() const { return model->area_um2(); }

  // The component as its kind's own type, for that kind's code and its tests.
  template <class T>
  const T& as() const {
    const auto* t = dynamic_cast<const T*>(model.get());
    if (!t) throw InternalError("component '" + name + "' is a " + kind_name + ", not the kind asked for");
    return *t;
  }
};

struct ArchSpec {
  std::string name;
  std::string description;
  std::string file;
  double clock_hz = 0;
  EnergyTable table;
  std::vector<ComponentSpec> components;

  const ComponentSpec* find(const std::string& name) const;
  // The component that makes it a many-core chip (a noc), if any; and how many copies of a component the chip
  // has: the noc's core count for those each core has its own of, else 1.
  const ComponentSpec* noc() const;
  int64_t copies(const std::string& component) const;
  // The links joining the devices the architecture is one of (an interconnect), if any, and those devices.
  const ComponentSpec* interconnect() const;
  const DevicesRole* devices() const;
  // What a transfer between two components goes through: the path that serves it most specifically (a PIM's
  // own path from its memory's banks before that memory's interface).
  const ComponentSpec& path(const std::string& from, const std::string& to) const;
};

// `sets` are (path below the arch, value) pairs from `--set arch.PATH=VALUE`, e.g. {"glb.size", "32 MiB"}: the
// file's architecture with override_arch applied.
ArchSpec load_arch(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets = {});

// A copy of `base` with typed overrides: COMPONENT.KEY[.MORE] re-reads that parameter through its kind's table
// and rebuilds the component (once, after all of its overrides); `clock`, `name` and `description` set the
// architecture's own. Applied in order; a later one wins.
ArchSpec override_arch(ArchSpec base, const std::vector<std::pair<std::string, std::string>>& sets);

}  // namespace einsim
