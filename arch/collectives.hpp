#pragma once
// Collectives between the devices of a system (an architecture's interconnect), costed by their algorithms on
// its topology. With N devices, links of B bytes/s each way and a latency of a per message step, for a buffer
// of S bytes per device (all_reduce: S in and out; all_gather: S out, S/N from each device; reduce_scatter: S in,
// S/N out; all_to_all: S in, S/N to each device):
//   ring (any topology; on a switch the ring runs through it), one direction, pipelined in chunks of S/N:
//     reduce_scatter, all_gather  (N-1) (a + S/(N B))        link bytes (N-1) S
//     all_reduce                  2 (N-1) (a + S/(N B))      link bytes 2 (N-1) S
//     all_to_all                  (N-1) a + (N-1) S/(2 B)    link bytes N (N-1) S / 2 (step k forwards the
//                                                            N-k blocks still on their way)
//   direct (a switch: every device reaches every other through its one port), all messages at once:
//     reduce_scatter, all_gather, all_to_all   a + (N-1) S/(N B)    link bytes (N-1) S
//     all_reduce (reduce_scatter, then all_gather)   2 a + 2 (N-1) S/(N B)    link bytes 2 (N-1) S
//   tree (a switch), all_reduce only: a binary tree's reduce, then its broadcast, the whole buffer per level:
//     2 ceil(log2 N) (a + S/B)    link bytes 2 (N-1) S
// One device needs no collective: 0 time, 0 bytes. Energy is the link bytes at the interconnect's energy per
// byte. Messages are not split below S/N and links do not carry both ways at once for one message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arch/component.hpp"

namespace einsim {

enum class Collective { all_reduce, all_gather, reduce_scatter, all_to_all };
enum class CollectiveAlgorithm { ring, direct, tree };

std::string_view collective_name(Collective c);
std::string_view algorithm_name(CollectiveAlgorithm a);
std::optional<Collective> parse_collective(std::string_view name);
std::optional<CollectiveAlgorithm> parse_algorithm(std::string_view name);
const std::vector<Collective>& all_collectives();
const std::vector<CollectiveAlgorithm>& all_algorithms();

struct CollectiveCost {
  bool ok = true;
  std::string reason;  // why the algorithm does not apply (ok false)
  double seconds = 0;
  int64_t steps = 0;      // message steps one after another (each pays the latency)
  double link_bytes = 0;  // sent over links, all devices together
  double energy_pJ = 0;
};

// `bytes`: each device's buffer, as above.
CollectiveCost collective_cost(const DevicesRole& devices, Collective c, CollectiveAlgorithm a, double bytes);

// The fastest algorithm that applies (ring applies everywhere), and its cost.
std::pair<CollectiveAlgorithm, CollectiveCost> fastest_collective(const DevicesRole& devices, Collective c,
                                                                  double bytes);

}  // namespace einsim
