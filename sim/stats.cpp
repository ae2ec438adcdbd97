#include "sim/stats.hpp"

namespace einsim {

nlohmann::ordered_json to_json(const Stats& s) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["fidelity"] = s.fidelity;
  j["status"] = Json{{"ok", s.status.ok}, {"reason", s.status.reason}};
  j["cycles"] = s.cycles;
  j["latency_s"] = s.latency_s;
  j["energy_pJ"] = s.energy_pJ;
  j["area_mm2"] = s.area_mm2;
  j["bound"] = s.bound;
  j["utilization"] = s.utilization;
  j["busy_cycles"] = s.busy_cycles;
  Json traffic = Json::object();
  for (const auto& [level, t] : s.traffic_bytes) traffic[level] = Json{{"read", t.read}, {"write", t.write}};
  j["traffic_bytes"] = traffic;
  Json einsums = Json::object();
  for (const auto& [name, e] : s.einsums)
    einsums[name] = Json{{"unit", e.unit}, {"cycles", e.cycles}, {"utilization", e.utilization}, {"ops", e.ops}};
  j["einsums"] = einsums;
  Json placements = Json::object();
  for (const auto& [group, pl] : s.placements) {
    Json options = Json::object();
    for (const auto& [name, o] : pl.options) options[name] = Json{{"ridge_op_per_byte", o.ridge_op_per_byte}, {"roofline_s", o.roofline_s}};
    placements[group] = Json{{"place", pl.place}, {"op_per_byte", pl.op_per_byte}, {"options", options}};
  }
  j["placements"] = placements;
  j["energy_breakdown_pJ"] = s.energy_breakdown_pJ;
  j["energy_by_action_pJ"] = s.energy_by_action_pJ;
  j["area_breakdown_mm2"] = s.area_breakdown_mm2;
  j["roofline_cycles"] = Json{{"compute", s.roofline_compute_cycles}, {"memory", s.roofline_memory_cycles}};
  j["stall_cycles"] = s.stall_cycles;
  j["gap_vs_analytical"] = s.gap_vs_analytical ? Json(*s.gap_vs_analytical) : Json(nullptr);
  j["buffer_conflict_cycles"] = s.buffer_conflict_cycles ? Json(*s.buffer_conflict_cycles) : Json(nullptr);
  return j;
}

Stats stats_from_json(const nlohmann::ordered_json& j) {
  Stats s;
  s.fidelity = j.at("fidelity");
  s.status = EvalStatus{j.at("status").at("ok"), j.at("status").at("reason")};
  s.cycles = j.at("cycles");
  s.latency_s = j.at("latency_s");
  s.energy_pJ = j.at("energy_pJ");
  s.area_mm2 = j.at("area_mm2");
  s.bound = j.at("bound");
  j.at("utilization").get_to(s.utilization);
  j.at("busy_cycles").get_to(s.busy_cycles);
  for (const auto& [level, t] : j.at("traffic_bytes").items()) s.traffic_bytes[level] = Traffic{t.at("read"), t.at("write")};
  for (const auto& [name, e] : j.at("einsums").items()) {
    EinsumStats& es = s.einsums[name];
    es.unit = e.at("unit");
    es.cycles = e.at("cycles");
    es.utilization = e.at("utilization");
    e.at("ops").get_to(es.ops);
  }
  for (const auto& [group, pl] : j.at("placements").items()) {
    PlacementStats& ps = s.placements[group];
    ps.place = pl.at("place");
    ps.op_per_byte = pl.at("op_per_byte");
    for (const auto& [name, o] : pl.at("options").items()) ps.options[name] = PlaceRoofline{o.at("ridge_op_per_byte"), o.at("roofline_s")};
  }
  j.at("energy_breakdown_pJ").get_to(s.energy_breakdown_pJ);
  j.at("energy_by_action_pJ").get_to(s.energy_by_action_pJ);
  j.at("area_breakdown_mm2").get_to(s.area_breakdown_mm2);
  s.roofline_compute_cycles = j.at("roofline_cycles").at("compute");
  s.roofline_memory_cycles = j.at("roofline_cycles").at("memory");
  j.at("stall_cycles").get_to(s.stall_cycles);
  if (!j.at("gap_vs_analytical").is_null()) s.gap_vs_analytical = j.at("gap_vs_analytical").get<double>();
  if (!j.at("buffer_conflict_cycles").is_null()) s.buffer_conflict_cycles = j.at("buffer_conflict_cycles").get<int64_t>();
  return s;
}

}  // namespace einsim
