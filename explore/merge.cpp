// einsim merge: shards of one sweep combined, each point once.
#include <fmt/format.h>

#include <filesystem>
#include <set>

#include "explore/results.hpp"
#include "explore/sweep.hpp"

namespace einsim {

namespace fs = std::filesystem;

void merge_results(const std::vector<std::string>& dirs, const std::string& out_dir) {
  fs::create_directories(out_dir);
  const DirectoryLock writing(out_dir);
  ResultsDb out((fs::path(out_dir) / "results.sqlite").string());
  if (out.rows() > 0)
    throw UserError(SourceLoc{out_dir}, "-o", "the directory already holds results; merge into an empty one");
  std::set<std::pair<int64_t, std::string>> seen;
  std::string sweep;
  for (const std::string& d : dirs) {
    const std::string f = (fs::path(d) / "results.sqlite").string();
    if (!fs::exists(f)) throw UserError(SourceLoc{d}, "merge", "no results.sqlite in this directory");
    ResultsDb in(f);
    const std::string s = in.meta("sweep");
    if (sweep.empty()) {
      sweep = s;
      out.set_meta("sweep", s);
      out.set_meta("einsim_version", in.meta("einsim_version"));
    } else if (s != sweep) {
      throw UserError(SourceLoc{d}, "merge", "these results come from a different sweep than " + dirs[0]);
    }
    for (Row& r : in.all(true)) {
      // A damaged file may hold anything where a row's point and fidelity belong.
      const int64_t* point_cell = r.size() >= 2 ? std::get_if<int64_t>(&r[0].second) : nullptr;
      const std::string* fidelity_cell = r.size() >= 2 ? std::get_if<std::string>(&r[1].second) : nullptr;
      if (!point_cell || !fidelity_cell)
        throw UserError(SourceLoc{f}, "merge", "a row without an integer point and a fidelity: not a sweep's results");
      const int64_t point = *point_cell;
      const std::string fidelity = *fidelity_cell;
      if (!seen.insert({point, fidelity}).second) continue;
      for (const auto& [column, cell] : r)  // the mappings the mapper chose there, saved beside the row
        if (const auto* file = std::get_if<std::string>(&cell); file && column.starts_with("mapped_")) {
          const fs::path from = fs::path(d) / *file, to = fs::path(out_dir) / *file;
          if (!fs::is_regular_file(from))
            throw UserError(SourceLoc{d}, "merge", fmt::format("point {} names {}, which is not there", point, *file));
          fs::create_directories(to.parent_path());
          fs::copy_file(from, to, fs::copy_options::overwrite_existing);
          if (const fs::path search = fs::path(from).replace_extension(".json"); fs::is_regular_file(search))
            fs::copy_file(search, fs::path(to).replace_extension(".json"), fs::copy_options::overwrite_existing);
        }
      out.put(r);
    }
  }
  out.flush();
  write_csv(out.all(), csv_leading(nlohmann::ordered_json::parse(sweep)), out.columns(),
            (fs::path(out_dir) / "results.csv").string());
}

}  // namespace einsim
