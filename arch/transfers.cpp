#include "arch/transfers.hpp"

#include "arch/kinds/pim/pim.hpp"

#include <vector>

namespace einsim {

const dram::RunResult& BankTransfers::dram(const dram::DramPreset& preset, int64_t bytes, bool write) {
  const auto [at, fresh] = dram_.try_emplace({&preset, bytes, write});
  if (fresh) {
    const int64_t access = preset.org.access_bytes();
    std::vector<dram::Request> requests(static_cast<size_t>((bytes + access - 1) / access));
    for (size_t i = 0; i < requests.size(); ++i)
      requests[i] = {static_cast<uint64_t>(i) * static_cast<uint64_t>(access), write, 0};
    at->second = dram::simulate(preset, requests);
  }
  return at->second;
}

const dram::PimStream& BankTransfers::pim(const PimComponent& pim, int64_t bytes) {
  const auto [at, fresh] = pim_.try_emplace({&pim, bytes});
  if (fresh) {
    const int64_t per_unit = (bytes + pim.units - 1) / pim.units;
    dram::PimStream r = dram::pim_stream(*pim.device, pim.dram_level(), pim.banks_per_unit, per_unit);
    for (int64_t* count : {&r.activates, &r.column_reads, &r.refreshes, &r.units, &r.bytes}) *count *= pim.stacks;
    at->second = r;
  }
  return at->second;
}

}  // namespace einsim
