#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "arch/collectives.hpp"
#include "common/yaml.hpp"
#include "mappings/spec.hpp"

namespace einsim {

namespace {

// Per memory level, outer to inner: loops over tiles fetched from the backing memory, then over tiles inside
// the buffer.
constexpr size_t kMaxGroupLoops = 64;

std::vector<LoopSpec> read_loops(const std::optional<YNode>& node, const MappingSpec& m) {
  std::vector<LoopSpec> out;
  if (!node) return out;
  MapReader levels(*node);
  for (const auto& [level, list] : levels.entries()) {
    if (level != m.backing && level != m.buffer)
      list.fail(fmt::format("loops are given per memory level: '{}' or '{}'", m.backing, m.buffer));
    for (const YNode& l : list.items()) {
      LoopSpec loop;
      loop.loc = l.loc();
      loop.buffer_level = level == m.buffer;
      if (l.is_scalar()) {
        loop.index = l.as_string();
      } else {
        MapReader lr(l);
        loop.index = lr.required("index").as_string();
        if (auto t = lr.optional("tile")) {
          loop.tile = t->as_string();
          try {
            loop.tile_expr = parse_expression(loop.tile);
          } catch (const SyntaxError& s) {
            t->fail(fmt::format("bad expression '{}': {} at column {}", loop.tile, s.message, s.col + 1));
          }
        }
        lr.finish();
      }
      out.push_back(loop);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const LoopSpec& a, const LoopSpec& b) { return !a.buffer_level && b.buffer_level; });
  return out;
}

// `{rows: m, cols: [p, q]}`: one index, or a list of indices whose tiles' product spreads over the dimension.
SpatialMap read_spatial(const YNode& node) {
  SpatialMap out;
  MapReader sr(node);
  for (const auto& [dim, index] : sr.entries()) {
    if (dim != "rows" && dim != "cols" && dim != "lanes")
      index.fail(fmt::format("unknown array dimension '{}' (rows, cols or lanes)", dim));
    for (const YNode& i : index.is_sequence() ? index.items() : std::vector<YNode>{index}) {
      for (const auto& [d, other] : out)
        if (other == i.as_string()) i.fail(fmt::format("index '{}' is already spread over {}", other, d));
      out.emplace_back(dim, i.as_string());
    }
  }
  return out;
}

std::vector<std::pair<std::string, EinsumBinding>> read_bindings(const YNode& node) {
  std::vector<std::pair<std::string, EinsumBinding>> out;
  MapReader einsums(node);
  for (const auto& [einsum, value] : einsums.entries()) {
    EinsumBinding b;
    b.loc = value.loc();
    b.key = value.path();
    MapReader br(value);
    if (auto u = br.optional("unit")) b.unit = u->as_string();
    const std::optional<YNode> s = br.optional("spatial");
    auto is_auto = [](const YNode& n) { return n.is_scalar() && n.as_string() == "auto"; };
    if (s && is_auto(*s)) {  // constraints: the mapper makes the unit's maps (every unit's, with unit: auto)
      if (b.unit.empty()) s->fail("spatial: auto needs the Einsum's unit, or unit: auto");
      b.unit_choices.emplace_back(b.unit == "auto" ? "*" : b.unit, SpatialMap{});
      b.maps_auto.push_back(0);
      b.unit = "auto";
    } else if (b.unit == "auto") {  // constraints: `spatial` lists the units the mapper may choose, each with its map
      if (!s)
        value.fail(
            "unit: auto needs `spatial` keyed by unit: the units the mapper may choose, each with its map (or auto), "
            "or spatial: auto");
      MapReader units(*s);
      for (const auto& [unit, map] : units.entries()) {
        if (is_auto(map)) b.maps_auto.push_back(b.unit_choices.size());
        b.unit_choices.emplace_back(unit, is_auto(map) ? SpatialMap{} : read_spatial(map));
      }
      if (b.unit_choices.empty()) s->fail("list at least one unit the mapper may choose");
    } else if (s) {
      b.spatial = read_spatial(*s);
    }
    br.finish();
    out.emplace_back(einsum, b);
  }
  return out;
}

// `double_buffer: true|false` (2 or 1 stages) or `buffer_stages: N`, at most one of them.
int stages_of(const YNode& node) {
  const int64_t n = node.as_int();
  if (n < 1 || n > 8) node.fail(fmt::format("buffer_stages must be between 1 and 8, got {}", n));
  return static_cast<int>(n);
}

// A group's (or a tensor's) buffer stages. With `choices`, a group's may be left to the mapper: a list of stages,
// or auto (1 to 4), returned there as text; and with `fit`, to lowering: `fit` (the most its tiles fit).
std::optional<int> read_stages(MapReader& r, std::vector<std::string>* choices = nullptr, bool* fit = nullptr) {
  const std::optional<YNode> db = r.optional("double_buffer");
  const std::optional<YNode> stages = r.optional("buffer_stages");
  if (db && stages) stages->fail("give double_buffer or buffer_stages, not both");
  if (db) return db->as_bool() ? 2 : 1;
  if (!stages) return std::nullopt;
  if (choices && stages->is_scalar() && stages->as_string() == "auto") {
    *choices = {"1", "2", "3", "4"};
    return std::nullopt;
  }
  if (fit && stages->is_scalar() && stages->as_string() == "fit") {
    *fit = true;
    return std::nullopt;
  }
  if (const std::string text = stages->is_scalar() ? stages->as_string() : "";
      stages->is_scalar() && (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) {
                                return std::isdigit(static_cast<unsigned char>(c));
                              })))
    stages->fail(fmt::format("give a number of stages from 1 to 8{}, got '{}'",
                             fit ? (choices ? ", fit (the most the tiles fit), a list of them or auto (einsim map)"
                                            : ", or fit (the most the tiles fit)")
                                 : "",
                             text));
  if (choices && stages->is_sequence()) {
    if (stages->items().empty()) stages->fail("give the stages `einsim map` may choose from");
    for (const YNode& n : stages->items()) {
      const std::string value = std::to_string(stages_of(n));
      if (std::find(choices->begin(), choices->end(), value) != choices->end())
        n.fail(fmt::format("{} is listed twice", value));
      choices->push_back(value);
    }
    return std::nullopt;
  }
  return stages_of(*stages);
}

// The indices whose outermost loops spread over the cores or the devices: one, or a list.
std::vector<std::string> read_spread(const YNode& node, std::string_view over, SourceLoc& loc) {
  loc = node.loc();
  std::vector<std::string> indices;
  for (const YNode& i : node.is_sequence() ? node.items() : std::vector<YNode>{node}) {
    if (std::find(indices.begin(), indices.end(), i.as_string()) != indices.end())
      i.fail(fmt::format("index '{}' is named twice", i.as_string()));
    indices.push_back(i.as_string());
  }
  if (indices.empty()) node.fail(fmt::format("name the indices whose loops spread over the {}", over));
  return indices;
}

// {op: all_reduce, tensor: O} or {op: all_to_all, bytes: "T * D * 2", algorithm: direct}.
CollectiveSpec read_collective(const YNode& node) {
  MapReader r(node);
  CollectiveSpec c;
  c.loc = node.loc();
  const YNode op = r.required("op");
  c.op = op.as_string();
  if (!parse_collective(c.op))
    op.fail(fmt::format("unknown collective '{}' (all_reduce, all_gather, reduce_scatter or all_to_all)", c.op));
  if (auto a = r.optional("algorithm")) {
    c.algorithm = a->as_string();
    if (!parse_algorithm(c.algorithm))
      a->fail(fmt::format("unknown algorithm '{}' (ring, direct or tree)", c.algorithm));
  }
  const std::optional<YNode> tensor = r.optional("tensor");
  const std::optional<YNode> bytes = r.optional("bytes");
  if (tensor.has_value() == bytes.has_value())
    node.fail("give the collective's tensor or its bytes per device, one of them");
  if (tensor) c.tensor = tensor->as_string();
  if (bytes) c.bytes = bytes->as_string();
  r.finish();
  return c;
}

}  // namespace

std::string format_spread(const std::vector<std::string>& indices) {
  return fmt::format("[{}]", fmt::join(indices, ", "));
}

std::vector<std::string> cores_choices(const std::vector<LoopSpec>& loops) {
  std::vector<std::string> spreads{format_spread({})}, prefix;
  for (const LoopSpec& l : loops)
    if (!l.buffer_level && std::find(prefix.begin(), prefix.end(), l.index) == prefix.end()) {
      prefix.push_back(l.index);
      spreads.push_back(format_spread(prefix));
    }
  return spreads;
}

std::vector<std::string> pass_choices(const std::vector<std::string>& einsums) {
  std::vector<std::vector<std::vector<std::string>>> ways;  // each a list of passes
  const size_t gaps = einsums.empty() ? 0 : einsums.size() - 1;
  for (uint64_t cuts = 0; cuts < (uint64_t{1} << gaps); ++cuts) {
    std::vector<std::vector<std::string>> passes{{}};
    for (size_t e = 0; e < einsums.size(); ++e) {
      if (e > 0 && (cuts >> (e - 1) & 1)) passes.emplace_back();
      passes.back().push_back(einsums[e]);
    }
    ways.push_back(std::move(passes));
  }
  std::stable_sort(ways.begin(), ways.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
  std::vector<std::string> out;
  for (const auto& passes : ways) {
    std::vector<std::string> text;
    for (const auto& pass : passes) text.push_back(fmt::format("[{}]", fmt::join(pass, ", ")));
    out.push_back(fmt::format("{}", fmt::join(text, " ")));
  }
  return out;
}

std::string format_passes(const std::vector<PassSpec>& passes) {
  std::vector<std::string> text;
  for (const PassSpec& pass : passes) {
    std::vector<std::string> names;
    for (const auto& [name, binding] : pass.einsums) names.push_back(name);
    text.push_back(fmt::format("[{}]", fmt::join(names, ", ")));
  }
  return fmt::format("{}", fmt::join(text, " "));
}

void cut_into_passes(GroupSpec& g, const std::string& value) {
  std::vector<std::pair<std::string, EinsumBinding>> einsums;
  for (PassSpec& pass : g.passes)
    for (auto& e : pass.einsums) einsums.push_back(std::move(e));
  g.passes.clear();
  size_t next = 0;
  for (char c : value) {
    if (c == '[') {
      g.passes.push_back(PassSpec{g.pass_loops, {}});
    } else if (c == ',' || c == ']') {
      if (next >= einsums.size() || g.passes.empty())
        throw InternalError(fmt::format("cut_into_passes: '{}' for group '{}'", value, g.name));
      g.passes.back().einsums.push_back(std::move(einsums[next++]));
    }
  }
  if (next != einsums.size()) throw InternalError(fmt::format("cut_into_passes: '{}' for group '{}'", value, g.name));
  g.pass_loops.clear();
  g.passes_cut = true;
}

std::vector<std::string> parse_spread(const std::string& text) {
  std::vector<std::string> indices;
  std::string index;
  for (char c : text) {
    if (c == '[' || c == ' ') continue;
    if (c == ',' || c == ']') {
      if (!index.empty()) indices.push_back(std::move(index));
      index.clear();
    } else {
      index += c;
    }
  }
  return indices;
}

MappingSpec load_mapping(const std::string& file) {
  const YNode root = YNode::load_file(file);
  MapReader top(root);
  MappingSpec m;
  m.file = file;
  read_version(top);
  const YNode name = top.required("name");
  const auto description = top.optional("description");
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (const auto alternatives = top.optional("alternatives")) {
    top.finish();  // nothing else: each alternative names its own arch, workload and groups
    m.name = name.as_string();
    if (description) m.description = description->as_string();
    m.alternatives_loc = alternatives->loc();
    if (!alternatives->is_sequence() || alternatives->items().empty())
      alternatives->fail("give a list of constraints files, the choices `einsim map` picks the best of");
    for (const YNode& a : alternatives->items()) {
      const std::string path = (dir / a.as_string()).lexically_normal().string();
      if (!std::filesystem::is_regular_file(path))
        a.fail(fmt::format("{} {}", path, std::filesystem::exists(path) ? "is not a file" : "does not exist"));
      if (!load_mapping(path).alternatives.empty())
        a.fail(path + " lists alternatives itself: list its alternatives here instead");
      m.alternatives.push_back(path);
    }
    return m;
  }
  const YNode arch = top.required("arch");
  const YNode workload = top.required("workload");
  const auto memory = top.optional("memory");
  const auto params = top.optional("params");
  const YNode groups = top.required("groups");
  top.finish();
  if (params) {  // {M0: 256}, or for the mapper {M0: [128, 256, 512]}
    m.params_loc = params->loc();
    MapReader pr(*params);
    for (const auto& [param, value] : pr.entries()) {
      if (value.is_scalar()) {
        m.params.emplace_back(param, value.as_string());
        continue;
      }
      if (!value.is_sequence() || value.items().empty())
        value.fail("give a value, or for `einsim map` a list of values to choose from");
      std::vector<std::string> values;
      for (const YNode& v : value.items()) {
        if (std::find(values.begin(), values.end(), v.as_string()) != values.end())
          v.fail(fmt::format("{} is listed twice", v.as_string()));
        values.push_back(v.as_string());
      }
      m.param_choices.emplace_back(param, std::move(values));
    }
  }
  m.name = name.as_string();
  if (description) m.description = description->as_string();
  m.arch = (dir / arch.as_string()).lexically_normal().string();
  m.workload = (dir / workload.as_string()).lexically_normal().string();
  if (memory) {
    MapReader mem(*memory);
    if (auto b = mem.optional("backing")) m.backing = b->as_string();
    if (auto b = mem.optional("buffer")) m.buffer = b->as_string();
    mem.finish();
  }
  m.groups_loc = groups.loc();
  for (const YNode& g : groups.items()) {
    MapReader gr(g);
    GroupSpec spec;
    spec.loc = g.loc();
    spec.name = gr.required("name").as_string();
    if (auto c = gr.optional("concurrent")) {
      spec.concurrent = c->as_bool();
      if (spec.concurrent && m.groups.empty()) c->fail("the first group has no group before it to run with");
    }
    if (auto c = gr.optional("collective")) {  // a collective's group has nothing else
      spec.collective = read_collective(*c);
      gr.finish();
      m.groups.push_back(std::move(spec));
      continue;
    }
    if (auto p = gr.optional("pipeline")) {
      if (p->is_scalar() && p->as_string() == "auto") {
        spec.setting_choices.push_back({"pipeline", {"false", "true"}});
        spec.settings_loc = p->loc();
      } else {
        spec.pipeline = p->as_bool();
      }
    }
    if (auto o = gr.optional("order")) {
      if (!o->is_scalar() || o->as_string() != "auto")
        o->fail("give auto (`einsim map` tries every order of the group's loops) or leave it out (they run as listed)");
      spec.order_auto = true;
      spec.order_loc = o->loc();
    }
    std::vector<std::string> stage_choices;
    if (auto stages = read_stages(gr, &stage_choices, &spec.stages_fit)) spec.buffer_stages = *stages;
    if (!stage_choices.empty()) {
      spec.setting_choices.emplace_back("buffer_stages", std::move(stage_choices));
      if (spec.settings_loc.line == 0) spec.settings_loc = g.loc();
    }
    if (auto pl = gr.optional("place")) spec.place = pl->as_string();
    const std::optional<YNode> cores = gr.optional("cores");
    const bool cores_auto = cores && cores->is_scalar() && cores->as_string() == "auto";
    if (cores_auto)
      spec.cores_loc = cores->loc();
    else if (cores)
      spec.cores = read_spread(*cores, "cores", spec.cores_loc);
    if (auto d = gr.optional("devices")) spec.devices = read_spread(*d, "devices", spec.devices_loc);
    spec.loops = read_loops(gr.optional("loops"), m);
    if (cores_auto) {
      spec.setting_choices.emplace_back("cores", cores_choices(spec.loops));
      if (spec.settings_loc.line == 0) spec.settings_loc = cores->loc();
    }
    // Per-tensor settings: {Q: {double_buffer: false}, K: {buffer_stages: 3}, QK: {spill: true}, A: {bypass: true}}.
    if (auto tensors = gr.optional("tensors")) {
      MapReader tr(*tensors);
      for (const auto& [tensor, value] : tr.entries()) {
        MapReader fr(value);
        const std::optional<int> stages = read_stages(fr);
        const std::optional<YNode> spill = fr.optional("spill");
        const std::optional<YNode> bypass = fr.optional("bypass");
        if (!stages && !spill && !bypass) value.fail("give double_buffer, buffer_stages, spill or bypass");
        if (stages) spec.tensor_buffer_stages[tensor] = *stages;
        if (spill) {
          const std::string v = spill->as_string();
          if (v == "auto") {  // the mapper tries both
            spec.setting_choices.push_back({"tensors." + tensor + ".spill", {"false", "true"}});
            spec.spill_choices[tensor] = spill->loc();
            if (spec.settings_loc.line == 0) spec.settings_loc = spill->loc();
          } else if (v == "true") {
            spec.spilled[tensor] = spill->loc();
          } else if (v != "false") {
            spill->fail(fmt::format("give true, false or auto (einsim map tries both), not '{}'", v));
          }
        }
        if (bypass && bypass->as_bool()) spec.bypassed[tensor] = bypass->loc();
        fr.finish();
      }
    }
    const std::optional<YNode> pass_loops = gr.optional("pass_loops");
    if (auto passes = gr.optional("passes"); passes && passes->is_scalar() && passes->as_string() == "auto") {
      // The mapper cuts the Einsums into passes, each running a copy of pass_loops (an auto tile the same in each).
      spec.passes.push_back(PassSpec{{}, read_bindings(gr.required("einsums"))});
      if (pass_loops) spec.pass_loops = read_loops(pass_loops, m);
      constexpr size_t kMaxCut = 12;  // 2,048 ways to cut
      std::vector<std::string> names;
      for (const auto& e : spec.passes[0].einsums) names.push_back(e.first);
      if (names.size() > kMaxCut)
        passes->fail(fmt::format("auto: group '{}' has {} Einsums; `einsim map` cuts at most {} into passes", spec.name,
                                 names.size(), kMaxCut));
      spec.setting_choices.emplace_back("passes", pass_choices(names));
      if (spec.settings_loc.line == 0) spec.settings_loc = passes->loc();
    } else if (passes) {
      if (pass_loops) pass_loops->fail("the passes' loops for `passes: auto`; listed passes give their own");
      for (const YNode& p : passes->items()) {
        MapReader pr(p);
        PassSpec pass;
        pass.loops = read_loops(pr.optional("loops"), m);
        pass.einsums = read_bindings(pr.required("einsums"));
        pr.finish();
        spec.passes.push_back(std::move(pass));
      }
      if (gr.optional("einsums")) passes->fail("a group lists its Einsums either directly or in passes, not both");
    } else {
      if (pass_loops) pass_loops->fail("the passes' loops for `passes: auto`");
      spec.passes.push_back(PassSpec{{}, read_bindings(gr.required("einsums"))});
    }
    gr.finish();
    // The cycle engine walks a group's loop nest recursively on a SystemC thread's small stack; real nests have
    // a handful of loops, and about a thousand overflowed it.
    size_t loops = spec.loops.size();
    for (const PassSpec& pass : spec.passes) loops += pass.loops.size();
    for (const PassSpec& pass : spec.passes) loops += spec.pass_loops.size() * pass.einsums.size();  // cut, at most
    if (loops > kMaxGroupLoops)
      g.fail(fmt::format("group '{}' has {} loops; a group has at most {}", spec.name, loops, kMaxGroupLoops));
    m.groups.push_back(std::move(spec));
  }
  if (m.groups.empty()) groups.fail("a mapping needs at least one group");
  return m;
}

WorkloadOverrides with_mapping_params(const MappingSpec& m, WorkloadOverrides user) {
  user.params.insert(user.params.begin(), m.params.begin(), m.params.end());
  for (const auto& [name, value] : m.params) user.origins.emplace(name, m.params_loc);
  return user;
}

MappingSpec with_params_bound(MappingSpec m, const WorkloadOverrides& o, const Cascade& cascade) {
  auto pin = [&](const std::string& name, const std::string& value) {
    if (name != "dtype" && !cascade.param(name)) return;  // a preset's param this workload lacks
    const auto it = std::find_if(m.params.begin(), m.params.end(), [&](const auto& p) { return p.first == name; });
    if (it != m.params.end())
      it->second = value;
    else
      m.params.emplace_back(name, value);
  };
  for (const std::string& file : o.param_files) {
    const YNode preset = YNode::load_file(file);
    MapReader reader(preset);
    MapReader entries(reader.required("params"));
    for (const auto& [name, value] : entries.entries()) pin(name, value.as_string());
  }
  for (const auto& [name, value] : o.params) pin(name, value);
  return m;
}

void require_one_mapping(const MappingSpec& m) {
  if (!m.alternatives.empty())
    throw UserError(m.alternatives_loc, "alternatives",
                    "constraints for `einsim map` (or a sweep part's `constraints:`), which picks the best of them; "
                    "model, sim and a part's `mapping:` need one mapping (einsim map -o writes it)");
}

}  // namespace einsim
