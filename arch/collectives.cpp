#include "arch/collectives.hpp"

#include <fmt/format.h>

#include <cmath>

namespace einsim {

std::string_view collective_name(Collective c) {
  switch (c) {
    case Collective::all_reduce:
      return "all_reduce";
    case Collective::all_gather:
      return "all_gather";
    case Collective::reduce_scatter:
      return "reduce_scatter";
    case Collective::all_to_all:
      return "all_to_all";
  }
  return "";
}

std::string_view algorithm_name(CollectiveAlgorithm a) {
  switch (a) {
    case CollectiveAlgorithm::ring:
      return "ring";
    case CollectiveAlgorithm::direct:
      return "direct";
    case CollectiveAlgorithm::tree:
      return "tree";
  }
  return "";
}

const std::vector<Collective>& all_collectives() {
  static const std::vector<Collective> all{Collective::all_reduce, Collective::all_gather, Collective::reduce_scatter,
                                           Collective::all_to_all};
  return all;
}

const std::vector<CollectiveAlgorithm>& all_algorithms() {
  static const std::vector<CollectiveAlgorithm> all{CollectiveAlgorithm::ring, CollectiveAlgorithm::direct,
                                                    CollectiveAlgorithm::tree};
  return all;
}

std::optional<Collective> parse_collective(std::string_view name) {
  for (const Collective c : all_collectives())
    if (collective_name(c) == name) return c;
  return std::nullopt;
}

std::optional<CollectiveAlgorithm> parse_algorithm(std::string_view name) {
  for (const CollectiveAlgorithm a : all_algorithms())
    if (algorithm_name(a) == name) return a;
  return std::nullopt;
}

CollectiveCost collective_cost(const DevicesRole& devices, Collective c, CollectiveAlgorithm a, double bytes) {
  CollectiveCost cost;
  const auto n = static_cast<double>(devices.count());
  const double alpha = devices.link_latency_s(), b = devices.link_Bps(), s = bytes;
  auto refuse = [&](std::string reason) {
    cost.ok = false;
    cost.reason = std::move(reason);
    return cost;
  };
  if (a != CollectiveAlgorithm::ring && devices.topology() == Topology::ring && devices.count() > 2)
    return refuse(
        fmt::format("{} needs every device to reach every other at once, through a switch: a ring of {} "
                    "devices links each to its two neighbours only (use ring)",
                    algorithm_name(a), devices.count()));
  if (a == CollectiveAlgorithm::tree && c != Collective::all_reduce)
    return refuse(fmt::format("tree implements all_reduce (a reduce, then a broadcast), not {}", collective_name(c)));
  if (devices.count() == 1) return cost;  // nothing to exchange
  const bool reduce_and_gather = c == Collective::all_reduce;
  switch (a) {
    case CollectiveAlgorithm::ring:
      if (c == Collective::all_to_all) {
        cost.steps = devices.count() - 1;
        cost.seconds = (n - 1) * alpha + (n - 1) * s / (2 * b);
        cost.link_bytes = n * (n - 1) * s / 2;
      } else {
        const double phases = reduce_and_gather ? 2 : 1;
        cost.steps = static_cast<int64_t>(phases) * (devices.count() - 1);
        cost.seconds = phases * (n - 1) * (alpha + s / (n * b));
        cost.link_bytes = phases * (n - 1) * s;
      }
      break;
    case CollectiveAlgorithm::direct: {
      const double phases = reduce_and_gather ? 2 : 1;
      cost.steps = static_cast<int64_t>(phases);
      cost.seconds = phases * (alpha + (n - 1) * s / (n * b));
      cost.link_bytes = phases * (n - 1) * s;
      break;
    }
    case CollectiveAlgorithm::tree: {
      const double levels = std::ceil(std::log2(n));
      cost.steps = 2 * static_cast<int64_t>(levels);
      cost.seconds = 2 * levels * (alpha + s / b);
      cost.link_bytes = 2 * (n - 1) * s;
      break;
    }
  }
  cost.energy_pJ = cost.link_bytes * devices.link_pJ_per_byte();
  return cost;
}

std::pair<CollectiveAlgorithm, CollectiveCost> fastest_collective(const DevicesRole& devices, Collective c,
                                                                  double bytes) {
  std::optional<std::pair<CollectiveAlgorithm, CollectiveCost>> best;
  for (const CollectiveAlgorithm a : all_algorithms()) {
    const CollectiveCost cost = collective_cost(devices, c, a, bytes);
    if (cost.ok && (!best || cost.seconds < best->second.seconds)) best = {a, cost};
  }
  return *best;  // the ring applies everywhere
}

}  // namespace einsim
