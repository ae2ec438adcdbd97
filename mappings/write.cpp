#include "mappings/write.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace einsim {

namespace {

// A tile: a number as it is, an expression quoted.
void emit_tile(YAML::Emitter& out, const std::string& expr) {
  if (std::all_of(expr.begin(), expr.end(), [](char c) { return c >= '0' && c <= '9'; }))
    out << expr;
  else
    out << YAML::DoubleQuoted << expr;
}

// Each level's loops (keys of the map being written), in flow style: a loop without a tile is its index alone.
void emit_levels(YAML::Emitter& out, const MappingSpec& m, const std::vector<LoopSpec>& loops) {
  for (const bool buffer : {false, true}) {
    if (std::none_of(loops.begin(), loops.end(), [&](const LoopSpec& l) { return l.buffer_level == buffer; })) continue;
    out << YAML::Key << (buffer ? m.buffer : m.backing) << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const LoopSpec& l : loops) {
      if (l.buffer_level != buffer) continue;
      if (l.tile.empty()) {
        out << l.index;
        continue;
      }
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "index" << YAML::Value << l.index << YAML::Key << "tile"
          << YAML::Value;
      emit_tile(out, l.tile);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
}

void emit_loops(YAML::Emitter& out, const MappingSpec& m, const std::vector<LoopSpec>& loops) {
  out << YAML::Key << "loops" << YAML::Value << YAML::BeginMap;
  emit_levels(out, m, loops);
  out << YAML::EndMap;
}

// A spatial map in flow style: indices spread over one dimension listed together, in the order given.
void emit_spatial(YAML::Emitter& out, const SpatialMap& spatial) {
  out << YAML::Flow << YAML::BeginMap;
  std::vector<std::string> dims;
  for (const auto& [dim, index] : spatial)
    if (std::find(dims.begin(), dims.end(), dim) == dims.end()) dims.push_back(dim);
  for (const std::string& dim : dims) {
    std::vector<std::string> indices;
    for (const auto& [d, index] : spatial)
      if (d == dim) indices.push_back(index);
    out << YAML::Key << dim << YAML::Value;
    if (indices.size() == 1)
      out << indices[0];
    else
      out << YAML::Flow << indices;
  }
  out << YAML::EndMap;
}

void emit_einsums(YAML::Emitter& out, const std::vector<std::pair<std::string, EinsumBinding>>& einsums) {
  out << YAML::Key << "einsums" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, b] : einsums) {
    out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (b.maps_auto.size() == 1 && b.unit_choices.size() == 1) {  // spatial: auto, on a unit or on every one
      const std::string& unit = b.unit_choices[0].first;
      out << YAML::Key << "unit" << YAML::Value << (unit == "*" ? "auto" : unit) << YAML::Key << "spatial"
          << YAML::Value << "auto";
    } else {
      if (!b.unit.empty()) out << YAML::Key << "unit" << YAML::Value << b.unit;
      if (!b.unit_choices.empty()) {  // unit: auto, the units the mapper may choose, each with its map (or auto)
        out << YAML::Key << "spatial" << YAML::Value << YAML::Flow << YAML::BeginMap;
        for (size_t i = 0; i < b.unit_choices.size(); ++i) {
          out << YAML::Key << b.unit_choices[i].first << YAML::Value;
          if (std::find(b.maps_auto.begin(), b.maps_auto.end(), i) != b.maps_auto.end())
            out << "auto";
          else
            emit_spatial(out, b.unit_choices[i].second);
        }
        out << YAML::EndMap;
      } else if (!b.spatial.empty()) {
        out << YAML::Key << "spatial" << YAML::Value;
        emit_spatial(out, b.spatial);
      }
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void emit_group(YAML::Emitter& out, const MappingSpec& m, const GroupSpec& g) {
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << g.name;
  if (g.concurrent) out << YAML::Key << "concurrent" << YAML::Value << true;
  if (g.collective) {
    const CollectiveSpec& c = *g.collective;
    out << YAML::Key << "collective" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "op" << YAML::Value
        << c.op;
    if (!c.tensor.empty()) out << YAML::Key << "tensor" << YAML::Value << c.tensor;
    if (!c.bytes.empty()) out << YAML::Key << "bytes" << YAML::Value << YAML::DoubleQuoted << c.bytes;
    if (!c.algorithm.empty()) out << YAML::Key << "algorithm" << YAML::Value << c.algorithm;
    out << YAML::EndMap << YAML::EndMap;
    return;
  }
  // Constraints: the settings left to the mapper, as lists of the values it may choose (auto's list for pipelining).
  auto choices = [&](const std::string& setting) -> const std::vector<std::string>* {
    for (const auto& [name, values] : g.setting_choices)
      if (name == setting) return &values;
    return nullptr;
  };
  if (choices("pipeline"))
    out << YAML::Key << "pipeline" << YAML::Value << "auto";
  else if (g.pipeline)
    out << YAML::Key << "pipeline" << YAML::Value << true;
  if (g.order_auto) out << YAML::Key << "order" << YAML::Value << "auto";
  if (const std::vector<std::string>* stages = choices("buffer_stages"))
    out << YAML::Key << "buffer_stages" << YAML::Value << YAML::Flow << *stages;
  else if (g.stages_fit)
    out << YAML::Key << "buffer_stages" << YAML::Value << "fit";
  else if (g.buffer_stages != 2)
    out << YAML::Key << "buffer_stages" << YAML::Value << g.buffer_stages;
  if (!g.place.empty()) out << YAML::Key << "place" << YAML::Value << g.place;
  if (choices("cores"))
    out << YAML::Key << "cores" << YAML::Value << "auto";
  else if (!g.cores.empty())
    out << YAML::Key << "cores" << YAML::Value << YAML::Flow << g.cores;
  if (!g.devices.empty()) out << YAML::Key << "devices" << YAML::Value << YAML::Flow << g.devices;
  if (!g.loops.empty()) emit_loops(out, m, g.loops);
  // Per-tensor settings, by tensor name.
  std::set<std::string> tensors;
  for (const auto& [t, n] : g.tensor_buffer_stages) tensors.insert(t);
  for (const auto& [t, loc] : g.spilled) tensors.insert(t);
  for (const auto& [t, loc] : g.spill_choices) tensors.insert(t);
  for (const auto& [t, loc] : g.bypassed) tensors.insert(t);
  if (!tensors.empty()) {
    out << YAML::Key << "tensors" << YAML::Value << YAML::BeginMap;
    for (const std::string& t : tensors) {
      out << YAML::Key << t << YAML::Value << YAML::Flow << YAML::BeginMap;
      if (const auto s = g.tensor_buffer_stages.find(t); s != g.tensor_buffer_stages.end())
        out << YAML::Key << "buffer_stages" << YAML::Value << s->second;
      if (g.spilled.contains(t)) out << YAML::Key << "spill" << YAML::Value << true;
      if (g.spill_choices.contains(t)) out << YAML::Key << "spill" << YAML::Value << "auto";
      if (g.bypassed.contains(t)) out << YAML::Key << "bypass" << YAML::Value << true;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  if (choices("passes")) {  // constraints: the Einsums in one pass, which the mapper cuts
    out << YAML::Key << "passes" << YAML::Value << "auto";
    if (!g.pass_loops.empty()) {
      out << YAML::Key << "pass_loops" << YAML::Value << YAML::BeginMap;
      emit_levels(out, m, g.pass_loops);
      out << YAML::EndMap;
    }
    emit_einsums(out, g.passes[0].einsums);
  } else if (g.passes.size() == 1 && g.passes[0].loops.empty()) {
    emit_einsums(out, g.passes[0].einsums);
  } else {
    out << YAML::Key << "passes" << YAML::Value << YAML::BeginSeq;
    for (const PassSpec& p : g.passes) {
      out << YAML::BeginMap;
      if (!p.loops.empty()) emit_loops(out, m, p.loops);
      emit_einsums(out, p.einsums);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

// A list of loops as "dram[b p=512] glb[p=256]", the backing memory's level, then the buffer's.
std::string loops_text(const MappingSpec& m, const std::vector<LoopSpec>& loops) {
  std::string out;
  for (const bool buffer : {false, true}) {
    std::string level;
    for (const LoopSpec& l : loops)
      if (l.buffer_level == buffer)
        level += (level.empty() ? "" : " ") + l.index + (l.tile.empty() ? "" : "=" + l.tile);
    if (!level.empty()) out += (out.empty() ? "" : " ") + (buffer ? m.buffer : m.backing) + "[" + level + "]";
  }
  return out;
}

}  // namespace

std::string loop_nest_text(const MappingSpec& m) {
  std::string out;
  for (const GroupSpec& g : m.groups) {
    if (g.collective) continue;
    std::string nest = loops_text(m, g.loops);
    if (g.passes.size() > 1 || (g.passes.size() == 1 && !g.passes[0].loops.empty()))
      for (size_t i = 0; i < g.passes.size(); ++i)
        nest += fmt::format("{}pass {} {}", nest.empty() ? "" : " ", i + 1, loops_text(m, g.passes[i].loops));
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", g.name, nest.empty() ? "-" : nest);
  }
  return out;
}

std::string mapping_yaml(const MappingSpec& m, const std::string& out_file) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(fs::path(out_file)).parent_path();
  auto relative = [&](const std::string& path) {
    return fs::absolute(fs::path(path)).lexically_normal().lexically_relative(dir).generic_string();
  };
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << 1;
  out << YAML::Key << "name" << YAML::Value << m.name;
  if (!m.description.empty()) out << YAML::Key << "description" << YAML::Value << m.description;
  out << YAML::Key << "arch" << YAML::Value << relative(m.arch);
  out << YAML::Key << "workload" << YAML::Value << relative(m.workload);
  if (!m.params.empty() || !m.param_choices.empty()) {  // pinned, then (constraints) the lists to choose from
    out << YAML::Key << "params" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [name, value] : m.params) out << YAML::Key << name << YAML::Value << value;
    for (const auto& [name, values] : m.param_choices) out << YAML::Key << name << YAML::Value << YAML::Flow << values;
    out << YAML::EndMap;
  }
  if (m.backing != "dram" || m.buffer != "glb")
    out << YAML::Key << "memory" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "backing" << YAML::Value
        << m.backing << YAML::Key << "buffer" << YAML::Value << m.buffer << YAML::EndMap;
  out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  for (const GroupSpec& g : m.groups) emit_group(out, m, g);
  out << YAML::EndSeq << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace einsim
