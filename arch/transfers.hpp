#pragma once
// Tile transfers as the bank-level DRAM model runs them, memoized by size (and direction): both evaluators
// time and charge a transfer by the commands it takes, and a mapping moves few distinct tile sizes.
#include <cstdint>
#include <map>
#include <tuple>

#include "arch/dram/model.hpp"
#include "arch/dram/pim.hpp"

namespace einsim {

class PimComponent;

class BankTransfers {
 public:
  // A DRAM with `model: bank` moving `bytes` as consecutive lines, every bank closed at the start.
  const dram::RunResult& dram(const dram::DramPreset& preset, int64_t bytes, bool write);
  // Every unit of a bank or bank-group PIM streaming its share of `bytes` from its own banks. The counts
  // are of all its stacks.
  const dram::PimStream& pim(const PimComponent& pim, int64_t bytes);

 private:
  std::map<std::tuple<const dram::DramPreset*, int64_t, bool>, dram::RunResult> dram_;
  std::map<std::pair<const PimComponent*, int64_t>, dram::PimStream> pim_;
};

}  // namespace einsim
