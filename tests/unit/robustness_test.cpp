// No input, however malformed, crashes einsim: randomly mutated workload files must either load or raise a
// UserError, and whatever loads must analyse and (when small) execute.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/unit/test_util.hpp"
#include "workloads/analysis.hpp"
#include "workloads/interpreter.hpp"

namespace einsim {
namespace {

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::string alphabet = "[](),=*+-/:{}#'\" \nabcmpM0123456789_.";
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < edits && !s.empty(); ++k) {
    const size_t at = pick(s.size());
    switch (rng() % 5) {
      case 0: s.erase(at, 1 + pick(8)); break;
      case 1: s.insert(at, 1, alphabet[pick(alphabet.size())]); break;
      case 2: s[at] = alphabet[pick(alphabet.size())]; break;
      case 3: {  // replace a digit run with an extreme number
        static const char* numbers[] = {"0", "-1", "99999999999999999999", "4611686018427387904", "3", "1e308"};
        size_t b = s.find_first_of("0123456789", at);
        if (b == std::string::npos) break;
        size_t e = s.find_first_not_of("0123456789", b);
        s.replace(b, (e == std::string::npos ? s.size() : e) - b, numbers[pick(6)]);
        break;
      }
      default: {  // duplicate a line
        const size_t b = s.rfind('\n', at), e = s.find('\n', at);
        const size_t from = b == std::string::npos ? 0 : b + 1;
        s.insert(from, s.substr(from, (e == std::string::npos ? s.size() : e + 1) - from));
      }
    }
  }
  return s;
}

TEST(Robustness, MutatedWorkloadsNeverCrash) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed);
  std::vector<std::string> sources;
  for (const std::string dir : {"configs/workloads", "tests/data"})
    for (const auto& f : std::filesystem::directory_iterator(dir))
      if (f.path().extension() == ".yaml") {
        std::ifstream in(f.path());
        std::stringstream ss;
        ss << in.rdbuf();
        sources.push_back(ss.str());
      }
  std::sort(sources.begin(), sources.end());  // directory order is not deterministic
  ASSERT_GE(sources.size(), 10u);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    const std::string text = mutate(sources[static_cast<size_t>(rng() % sources.size())], rng);
    const std::string file = test::temp_file("mutant.yaml", text);
    try {
      const Cascade c = load_cascade(file);
      analyze(c);
      int64_t work = 0;
      for (const Einsum& e : c.einsums) work += e.points();
      for (const Tensor& t : c.tensors) work += t.elements();
      if (work < 200000) evaluate(c, random_inputs(c, seed), EvalOptions{});
      ++loaded;
    } catch (const UserError&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "seed " << seed << " mutant " << i << ": " << e.what() << "\n" << text;
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace einsim
