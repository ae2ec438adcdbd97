// configs/dram/*.yaml -> DramPreset, with the checks the model relies on (power-of-two fields for the address
// mapping, a data bus never driven twice at once).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <filesystem>

#include "arch/dram/spec.hpp"
#include "common/yaml.hpp"

namespace einsim::dram {
namespace {

// One of a field's named values; anything else fails with the names (`known`, in the message's parentheses).
template <class E>
E choice(const YNode& n, std::string_view key, std::initializer_list<std::pair<std::string_view, E>> values,
         std::string_view known) {
  const std::string v = n.as_string();
  for (const auto& [name, value] : values)
    if (v == name) return value;
  n.fail(fmt::format("unknown {} '{}' ({})", key, v, known));
}

int64_t in_range(const YNode& n, int64_t lo, int64_t hi) {
  const int64_t v = n.as_int();
  if (v < lo || v > hi) n.fail(fmt::format("must be between {} and {}, got {}", lo, hi, v));
  return v;
}

// Address fields are bit fields: their sizes must be powers of two.
int64_t power_of_two(const YNode& n) {
  const int64_t v = in_range(n, 1, int64_t{1} << 30);
  if ((v & (v - 1)) != 0) n.fail(fmt::format("must be a power of two (it is an address field), got {}", v));
  return v;
}

DramOrg read_org(const YNode& node) {
  MapReader m(node);
  DramOrg o;
  o.channels = power_of_two(m.required("channels"));
  if (auto p = m.optional("pseudo_channels")) o.pseudo_channels = power_of_two(*p);
  if (auto r = m.optional("ranks")) o.ranks = power_of_two(*r);
  o.bank_groups = power_of_two(m.required("bank_groups"));
  o.banks = power_of_two(m.required("banks"));
  o.rows = power_of_two(m.required("rows"));
  const YNode row = m.required("row_bytes");
  o.row_bytes = power_of_two(row);
  const YNode width = m.required("data_width_bits");
  o.data_width_bits = power_of_two(width);
  o.burst_length = power_of_two(m.required("burst_length"));
  m.finish();
  if (o.data_width_bits * o.burst_length < 8)
    width.fail("an access (data_width_bits x burst_length) must be at least a byte");
  if (o.row_bytes < o.access_bytes())
    row.fail(fmt::format("a row ({} B) must hold at least one access ({} B)", o.row_bytes, o.access_bytes()));
  return o;
}

DramTiming read_timing(const YNode& node) {
  MapReader m(node);
  DramTiming t;
  const YNode tck = m.required("tCK_ps");
  t.tCK_ps = tck.as_double();
  if (!(t.tCK_ps > 0 && t.tCK_ps < 1e6))
    tck.fail(fmt::format("tCK_ps must be positive and below 1e6, got {}", t.tCK_ps));
  const int64_t most = 1 << 20;
  auto cycles = [&](const char* key, int64_t lo) { return in_range(m.required(key), lo, most); };
  t.nBL = cycles("nBL", 1);
  t.nCL = cycles("nCL", 1);
  t.nCWL = cycles("nCWL", 1);
  t.nRCDRD = cycles("nRCDRD", 1);
  t.nRCDWR = cycles("nRCDWR", 1);
  t.nRP = cycles("nRP", 1);
  t.nRAS = cycles("nRAS", 1);
  t.nRC = cycles("nRC", 1);
  t.nWR = cycles("nWR", 1);
  t.nRTP = cycles("nRTP", 1);
  t.nWTRS = cycles("nWTRS", 1);
  t.nWTRL = cycles("nWTRL", 1);
  const YNode ccds = m.required("nCCDS");
  t.nCCDS = in_range(ccds, 1, most);
  t.nCCDL = cycles("nCCDL", 1);
  t.nRRDS = cycles("nRRDS", 1);
  t.nRRDL = cycles("nRRDL", 1);
  t.nFAW = cycles("nFAW", 1);
  if (auto s = m.optional("activate_scope"))
    t.activate_scope = choice<ActivateScope>(
        *s, "activate_scope", {{"rank", ActivateScope::rank}, {"channel", ActivateScope::channel}},
        "known: rank: nRRDS and nFAW per rank or stack ID; channel: per (pseudo-)channel");
  const YNode rfc = m.required("nRFC");
  t.nRFC = in_range(rfc, 1, most);
  t.nREFI = cycles("nREFI", 1);
  t.nRTW = cycles("nRTW", 0);
  t.nRTRS = cycles("nRTRS", 0);
  std::optional<YNode> ccdab = m.optional("nCCDAB");
  t.nCCDAB = ccdab ? in_range(*ccdab, 1, most) : t.nCCDL;
  if (auto v = m.optional("nRFCpb")) t.nRFCpb = in_range(*v, 1, most);
  t.nPBR2PBR = t.nPBR2ACT = t.nRRDS;
  if (auto v = m.optional("nPBR2PBR")) t.nPBR2PBR = in_range(*v, 1, most);
  if (auto v = m.optional("nPBR2ACT")) t.nPBR2ACT = in_range(*v, 1, most);
  m.finish();
  if (t.nCCDAB < t.nCCDL)
    ccdab->fail(fmt::format("nCCDAB ({}) below nCCDL ({}): an all-bank MAC is a column access of every bank group",
                            t.nCCDAB, t.nCCDL));
  if (t.nCCDS < t.nBL)
    ccds.fail(fmt::format("nCCDS ({}) below nBL ({}) would drive the data bus twice at once", t.nCCDS, t.nBL));
  if (t.nRFC >= t.nREFI) rfc.fail(fmt::format("nRFC ({}) must be below nREFI ({})", t.nRFC, t.nREFI));
  return t;
}

DramController read_controller(const YNode& node) {
  MapReader m(node);
  DramController c;
  if (auto q = m.optional("queue_size")) c.queue_size = in_range(*q, 1, 4096);
  if (auto p = m.optional("page_policy"))
    c.page_policy = choice<PagePolicy>(*p, "page_policy", {{"open", PagePolicy::open}, {"closed", PagePolicy::closed}},
                                       "known: open, closed");
  if (auto a = m.optional("mapping"))
    c.mapping = choice<AddressMapping>(
        *a, "mapping", {{"ro_ba_ra_co_ch", AddressMapping::ro_ba_ra_co_ch}, {"xor", AddressMapping::xor_interleaved}},
        "known: ro_ba_ra_co_ch, xor");
  if (auto b = m.optional("command_bus"))
    c.dual_command_bus = choice<bool>(*b, "command_bus", {{"dual", true}, {"single", false}},
                                      "dual: row and column commands on their own buses; single");
  if (auto r = m.optional("refresh")) c.refresh = r->as_bool();
  if (auto r = m.optional("refresh_mode"))
    c.refresh_mode = choice<RefreshMode>(*r, "refresh_mode",
                                         {{"all_bank", RefreshMode::all_bank}, {"per_bank", RefreshMode::per_bank}},
                                         "known: all_bank, per_bank");
  m.finish();
  return c;
}

DramPim read_pim(const YNode& node) {
  MapReader m(node);
  DramPim pim;
  if (auto l = m.optional("power_limit")) {
    pim.power_limit = l->as_double();
    if (!(pim.power_limit > 0 && pim.power_limit <= 1))
      l->fail(fmt::format(
          "power_limit is the fraction of the all-bank MAC rate the power budget allows: above 0, at most 1; got {}",
          pim.power_limit));
  }
  m.finish();
  return pim;
}

void read_access_energy(const EnergyTable& table, const YNode& node, Cost& array, Cost& movement, Cost& io) {
  MapReader m(node);
  array = evaluate_cost(table, m.required("array"));
  movement = evaluate_cost(table, m.required("movement"));
  io = evaluate_cost(table, m.required("io"));
  m.finish();
}

}  // namespace

std::string_view page_policy_name(PagePolicy p) { return p == PagePolicy::open ? "open" : "closed"; }
std::string_view mapping_name(AddressMapping m) {
  return m == AddressMapping::xor_interleaved ? "xor" : "ro_ba_ra_co_ch";
}
std::string_view refresh_mode_name(RefreshMode m) { return m == RefreshMode::all_bank ? "all_bank" : "per_bank"; }
std::string_view activate_scope_name(ActivateScope s) { return s == ActivateScope::rank ? "rank" : "channel"; }

std::string find_dram_preset(const std::string& name, const std::string& base, const std::vector<std::string>& folders,
                             const SourceLoc& where, const std::string& key) {
  namespace fs = std::filesystem;
  if (name.find('/') != std::string::npos || name.ends_with(".yaml")) {
    const fs::path path = fs::path(base) / name;
    if (!fs::is_regular_file(path)) throw UserError(where, key, fmt::format("DRAM preset {} not found", path.string()));
    return path.string();
  }
  for (const std::string& folder : folders)
    if (fs::is_regular_file(fs::path(folder) / (name + ".yaml"))) return (fs::path(folder) / (name + ".yaml")).string();
  std::vector<std::string> known;
  for (const std::string& folder : folders) {
    if (!fs::is_directory(folder)) continue;
    for (const auto& f : fs::directory_iterator(folder))
      if (f.path().extension() == ".yaml") known.push_back(f.path().stem().string());
    break;
  }
  std::sort(known.begin(), known.end());
  throw UserError(where, key, fmt::format("unknown DRAM preset '{}' (known: {})", name, fmt::join(known, ", ")));
}

DramPreset load_dram_preset(const std::string& file, const std::vector<std::pair<std::string, std::string>>& sets) {
  const YNode root = YNode::load_file(file);
  for (const auto& [path, value] : sets) set_path(root, split_path(path), value, "--set " + path);
  MapReader top(root);
  DramPreset p;
  p.file = file;
  read_version(top);
  p.name = top.required("name").as_string();
  if (auto d = top.optional("description")) p.description = d->as_string();
  p.org = read_org(top.required("organization"));
  p.timing = read_timing(top.required("timing"));
  std::optional<YNode> controller = top.optional("controller");
  if (controller) p.controller = read_controller(*controller);
  if (p.controller.refresh_mode == RefreshMode::per_bank) {
    const YNode where(controller->raw()["refresh_mode"], controller->file(), controller->path() + ".refresh_mode");
    if (p.timing.nRFCpb == 0) where.fail("per_bank refresh needs timing.nRFCpb (REFpb to ACT of the same bank)");
    if (p.timing.nREFI / p.org.banks_per_rank() <= p.timing.nRFCpb)
      where.fail(fmt::format("per_bank refresh: a REFpb every nREFI / {} banks = {} cycles must outlast nRFCpb ({})",
                             p.org.banks_per_rank(), p.timing.nREFI / p.org.banks_per_rank(), p.timing.nRFCpb));
  }
  if (auto c = top.optional("pim")) p.pim = read_pim(*c);
  const YNode energy = top.required("energy");
  top.finish();

  MapReader e(energy);
  const YNode table = e.required("table");
  // The table path is relative to the preset, so configs move together.
  const std::filesystem::path table_path = std::filesystem::path(file).parent_path() / table.as_string();
  if (!std::filesystem::exists(table_path)) table.fail(fmt::format("energy table {} not found", table_path.string()));
  p.table = load_energy_table(table_path.string());
  p.energy.activate = evaluate_cost(p.table, e.required("activate"));
  read_access_energy(p.table, e.required("read"), p.energy.read_array, p.energy.read_movement, p.energy.read_io);
  read_access_energy(p.table, e.required("write"), p.energy.write_array, p.energy.write_movement, p.energy.write_io);
  p.energy.refresh = evaluate_cost(p.table, e.required("refresh"));
  e.finish();
  return p;
}

}  // namespace einsim::dram
