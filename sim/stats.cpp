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
  j["energy_breakdown_pJ"] = s.energy_breakdown_pJ;
  j["energy_by_action_pJ"] = s.energy_by_action_pJ;
  j["area_breakdown_mm2"] = s.area_breakdown_mm2;
  j["roofline_cycles"] = Json{{"compute", s.roofline_compute_cycles}, {"memory", s.roofline_memory_cycles}};
  j["stall_cycles"] = s.stall_cycles;
  j["gap_vs_analytical"] = s.gap_vs_analytical ? Json(*s.gap_vs_analytical) : Json(nullptr);
  j["buffer_conflict_cycles"] = s.buffer_conflict_cycles ? Json(*s.buffer_conflict_cycles) : Json(nullptr);
  return j;
}

}  // namespace einsim
