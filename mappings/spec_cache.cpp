#include "mappings/spec_cache.hpp"
#include "mappings/unconstrained.hpp"

#include "common/overrides.hpp"
#include "common/yaml.hpp"

namespace einsim {

namespace {

// Keys join their parts with a byte no path or value holds.
std::string arch_key(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets) {
  std::string k = file;
  for (const auto& [path, value] : sets) k += '\x1f' + path + '=' + value;
  return k;
}

std::string cascade_key(const std::string& file, const WorkloadOverrides& o) {
  std::string k = file + (o.skip_unknown ? "\x1f+" : "\x1f-");
  for (const std::string& f : o.param_files) k += "\x1f@" + f;
  for (const auto& [name, value] : o.params) k += '\x1f' + name + '=' + value;
  return k;
}

// What a point's cascade is bound with: the mapping's params and those the mapper chose for it (its `params:`
// lists), under the point's own overrides.
WorkloadOverrides point_overrides(const MappingSpec& m, const SpecInputs& in) {
  WorkloadOverrides o = in.workload_overrides;
  auto at = o.params.begin();
  for (const auto& [name, value] : in.choice.params) {
    if (name.find('.') != std::string::npos) continue;  // a group's setting (attention.buffer_stages)
    at = std::next(o.params.emplace(at, name, value));
    o.origins.emplace(name, m.params_loc);
  }
  return with_mapping_params(m, std::move(o));
}

}  // namespace

nlohmann::ordered_json to_json(const SpecInputs& in) {
  using Json = nlohmann::ordered_json;
  auto settings = [](const Settings& s) {
    Json a = Json::array();
    for (const auto& [path, value] : s) a.push_back(Json::array({path, value}));
    return a;
  };
  Json j{{"mapping", in.mapping},
         {"map", in.map},
         {"ragged", in.ragged},
         {"rerank_cycle", in.rerank_cycle},
         {"tiles", in.choice.tiles},
         {"orders", in.choice.orders},
         {"units", in.choice.units},
         {"arch", in.arch},
         {"workload", in.workload},
         {"param_files", in.workload_overrides.param_files},
         {"params", settings(in.workload_overrides.params)},
         {"arch_sets", settings(in.arch_sets)}};
  if (!in.choice.params.empty()) j["chosen_params"] = settings(in.choice.params);  // only constraints that list some
  if (!in.choice.groups.empty()) j["fused_groups"] = in.choice.groups;             // only a search of fusion's
  if (in.fuse != 1) j["fuse"] = in.fuse;
  return j;
}

SpecInputs spec_inputs_from_json(const nlohmann::ordered_json& j) {
  try {
    SpecInputs in;
    j.at("mapping").get_to(in.mapping);
    j.at("map").get_to(in.map);
    j.at("ragged").get_to(in.ragged);
    j.at("rerank_cycle").get_to(in.rerank_cycle);
    j.at("tiles").get_to(in.choice.tiles);
    j.at("orders").get_to(in.choice.orders);
    j.at("units").get_to(in.choice.units);
    j.at("arch").get_to(in.arch);
    j.at("workload").get_to(in.workload);
    j.at("param_files").get_to(in.workload_overrides.param_files);
    for (const auto& p : j.at("params")) in.workload_overrides.params.emplace_back(p.at(0), p.at(1));
    for (const auto& p : j.at("arch_sets")) in.arch_sets.emplace_back(p.at(0), p.at(1));
    if (j.contains("chosen_params"))
      for (const auto& p : j.at("chosen_params")) in.choice.params.emplace_back(p.at(0), p.at(1));
    if (j.contains("fused_groups")) j.at("fused_groups").get_to(in.choice.groups);
    if (j.contains("fuse")) j.at("fuse").get_to(in.fuse);
    return in;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(SourceLoc{}, "design point", std::string("malformed: ") + e.what());
  }
}

template <class T, class Load>
const SpecCache::Entry<T>& SpecCache::get(std::map<std::string, Entry<T>>& cache, const std::string& key, Load load) {
  Entry<T>* e = nullptr;
  {
    std::lock_guard lock(mutex_);
    e = &cache[key];  // std::map: the entry stays where it is
  }
  std::call_once(e->once, [&] {
    FileReads reads;
    try {
      e->value = load();
    } catch (...) {
      e->error = std::current_exception();
    }
    e->files = reads.files();
    e->ready = true;
  });
  return *e;
}

std::shared_ptr<const MappingSpec> SpecCache::mapping(const std::string& file) {
  const auto& m = get(mappings_, file, [&] { return std::make_shared<const MappingSpec>(load_mapping(file)); });
  if (m.error) std::rethrow_exception(m.error);
  return m.value;
}

ResolvedSpecs SpecCache::resolve(const SpecInputs& in) {
  ResolvedSpecs r;
  // Without a file, the mapper searches what unconstrained() makes of the workload and the architecture.
  const bool generated = in.mapping.empty() && in.map;
  if (!generated) {
    r.mapping = mapping(in.mapping);
    require_one_mapping(*r.mapping);
  }
  const std::string arch = in.arch.empty() ? r.mapping->arch : in.arch;
  const BoundWorkload w = workload_of(in, r.mapping.get());
  const auto& c = get(cascades_, cascade_key(w.file, w.overrides),
                      [&] { return std::make_shared<const Cascade>(bind_workload(*w.source, w.overrides)); });
  if (c.error) std::rethrow_exception(c.error);
  r.cascade = c.value;
  // An architecture is read once per file; each point's overrides apply to a copy of it, through its kinds'
  // parameter tables.
  const auto& base = get(archs_, arch_key(arch, {}), [&] { return std::make_shared<const ArchSpec>(load_arch(arch)); });
  if (base.error) std::rethrow_exception(base.error);
  const auto& a = in.arch_sets.empty() ? base : get(archs_, arch_key(arch, in.arch_sets), [&] {
    return std::make_shared<const ArchSpec>(override_arch(*base.value, in.arch_sets));
  });
  if (a.error) std::rethrow_exception(a.error);
  r.arch = a.value;
  if (generated)
    r.mapping = std::make_shared<const MappingSpec>(unconstrained(*r.cascade, *r.arch));
  else if (in.map && has_auto_maps(*r.mapping))  // the maps `spatial: auto` leaves, at this point's extents
    r.mapping = std::make_shared<const MappingSpec>(with_spatial_maps(*r.mapping, *r.cascade, *r.arch));
  return r;
}

SpecCache::BoundWorkload SpecCache::workload_of(const SpecInputs& in, const MappingSpec* m) {
  BoundWorkload w;
  w.file = in.workload.empty() ? m->workload : in.workload;
  // A workload is read once per file and bound to each point's params.
  const auto& source = get(workloads_, w.file, [&] { return read_workload(w.file); });
  if (source.error) std::rethrow_exception(source.error);
  w.source = source.value;
  w.overrides = m ? point_overrides(*m, in) : in.workload_overrides;  // no mapping: unconstrained()'s
  return w;
}

Cascade SpecCache::bind(const SpecInputs& in) {
  const bool generated = in.mapping.empty() && in.map;
  const BoundWorkload w = workload_of(in, generated ? nullptr : mapping(in.mapping).get());
  return bind_workload(*w.source, w.overrides);
}

std::shared_ptr<const ChosenMapping> SpecCache::chosen(
    const SpecInputs& in, const std::function<std::shared_ptr<const ChosenMapping>()>& make) {
  const auto& d = get(chosen_, to_json(in).dump(), make);
  if (d.error) std::rethrow_exception(d.error);
  return d.value;
}

FileList SpecCache::files(const SpecInputs& in) {
  FileList out;
  try {
    resolve(in);
  } catch (...) {  // as far as it got: the entries below hold what each resolution read
  }
  std::unique_lock lock(mutex_);
  const auto m = mappings_.find(in.mapping);
  const bool generated = in.mapping.empty() && in.map;
  if (!generated && (m == mappings_.end() || !m->second.ready)) return out;
  if (!generated) out = m->second.files;
  if (!generated && !m->second.value) return out;
  if (!generated && !m->second.value->alternatives.empty()) {
    const std::vector<std::string> alternatives = m->second.value->alternatives;
    lock.unlock();
    for (const std::string& file : alternatives) {
      SpecInputs a = in;
      a.mapping = file;
      const FileList more = files(a);
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  const std::string arch = generated || !in.arch.empty() ? in.arch : m->second.value->arch;
  const std::string workload = generated || !in.workload.empty() ? in.workload : m->second.value->workload;
  if (const auto w = workloads_.find(workload);
      w != workloads_.end() && w->second.ready)  // the file, then the presets binding read
    out.insert(out.end(), w->second.files.begin(), w->second.files.end());
  if (const auto c = cascades_.find(
          cascade_key(workload, generated ? in.workload_overrides : point_overrides(*m->second.value, in)));
      c != cascades_.end() && c->second.ready)
    out.insert(out.end(), c->second.files.begin(), c->second.files.end());
  for (const std::string& key :
       {arch_key(arch, {}), arch_key(arch, in.arch_sets)}) {  // the file, then what overrides read
    if (const auto a = archs_.find(key); a != archs_.end() && a->second.ready)
      out.insert(out.end(), a->second.files.begin(), a->second.files.end());
    if (in.arch_sets.empty()) break;
  }
  return out;
}

}  // namespace einsim
