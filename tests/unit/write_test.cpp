// A mapping written back (mappings/write) loads to the same mapping: every shipped and test mapping, written,
// loaded and written again gives the same text, and evaluates to the same Stats as the file it came from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mappings/write.hpp"
#include "sim/analytical.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> mapping_files() {
  std::vector<std::string> files;
  for (const std::string dir : {"configs/mappings", "configs/constraints", "tests/data"})
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".yaml") {
        std::ifstream in(entry.path());
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (text.find("\ngroups:") != std::string::npos) files.push_back(entry.path().string());
      }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(WriteMapping, EveryMappingWrittenBackLoadsAndEvaluatesAsItsFile) {
  const std::vector<std::string> files = mapping_files();
  ASSERT_GT(files.size(), 50u);
  const fs::path dir = fs::path(test::temp_file("x", "")).parent_path() / "written";
  fs::create_directories(dir);
  for (const std::string& file : files) {
    const MappingSpec m = load_mapping(file);
    const std::string out = (dir / fs::path(file).filename()).string();
    const std::string text = mapping_yaml(m, out);
    std::ofstream(out) << text;
    const MappingSpec back = load_mapping(out);
    EXPECT_EQ(mapping_yaml(back, out), text) << file;
    EXPECT_EQ(fs::path(back.arch).lexically_normal(), fs::absolute(m.arch).lexically_normal()) << file;
    EXPECT_EQ(fs::path(back.workload).lexically_normal(), fs::absolute(m.workload).lexically_normal()) << file;
    if (text.find("auto") != std::string::npos) continue;  // constraints: the mapper's, not a mapping to evaluate
    const DesignPoint a = test::point(file), b = test::point(out);
    EXPECT_EQ(to_json(evaluate_analytical(a.cascade, a.arch, a.program)).dump(),
              to_json(evaluate_analytical(b.cascade, b.arch, b.program)).dump())
        << file;
  }
}

// A mapping's loop nests on one line, as the report sets candidates side by side: each group's levels outer to
// inner, an index with its tile, then each pass's.
TEST(WriteMapping, LoopNestTextShowsEachGroupsLevelsAndPasses) {
  EXPECT_EQ(loop_nest_text(load_mapping("configs/mappings/attention-fusemax.yaml")),
            "attention: dram[b kh g p=min(P, 8192) m1] glb[p=min(P, 256)]");
  EXPECT_EQ(
      loop_nest_text(load_mapping("configs/mappings/attention-flat.yaml")),
      "attention: dram[b kh g p=min(P, max(1, 8388608 / M))] pass 1 dram[m=min(M, 256)] pass 2 glb[m=min(M, 256)] "
      "pass 3 dram[m=min(M, 256)]");
}

}  // namespace
}  // namespace einsim
